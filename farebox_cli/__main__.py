"""The operator CLI: `farebox run | migrate | certs | token | audit`."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path

from common.jwt_auth import TOKEN_ROLES
from common.logs import configure_logging
from farebox_cli.audit import run_audit
from farebox_cli.certs import write_dev_certificates
from farebox_cli.stack import apply_migrations, run_stack
from farebox_cli.tokens import mint_token


def main(argv: list[str] | None = None) -> int:
    """Parses the command line and runs the command."""
    parser = argparse.ArgumentParser(prog="farebox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole suite locally until Ctrl-C")
    run.add_argument(
        "--data-dir", type=Path, default=Path(".farebox"), help="where private stores keep their files"
    )
    commands.add_parser("migrate", help="apply pending migrations to DATABASE_URL")
    certs = commands.add_parser("certs", help="create the dev CA and per-service certificates")
    certs.add_argument("--data-dir", type=Path, default=Path(".farebox"), help="writes into <data-dir>/certs")
    certs.add_argument(
        "--namespace", default="farebox", help="Kubernetes namespace in the certificates' names"
    )
    certs.add_argument("--force", action="store_true", help="replace the CA and every certificate")
    token = commands.add_parser("token", help="print a dev bearer token signed with the dev key")
    token.add_argument("--role", action="append", required=True, choices=sorted(TOKEN_ROLES))
    token.add_argument("--sub", required=True, help="the subject: a traveller's or operator user's id")
    token.add_argument(
        "--tenant", default="", help="the operator the token acts for (required with operator)"
    )
    token.add_argument("--minutes", type=int, default=60, help="how long the token is valid")
    token.add_argument("--data-dir", type=Path, default=Path(".farebox"), help="where the dev key is kept")
    audit = commands.add_parser("audit", help="check that bookings, seats and payments agree (exit 1 if not)")
    for service in ("booking", "seat", "payment"):
        audit.add_argument(
            f"--{service}-url",
            help=f"the {service} database (default {service.upper()}_DATABASE_URL, else DATABASE_URL)",
        )
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("LOG_LEVEL", "info"), service="cli")
    if args.command == "run":
        run_stack(args.data_dir.resolve())
    elif args.command == "migrate":
        apply_migrations(os.environ["DATABASE_URL"])
    elif args.command == "certs":
        for name, paths in write_dev_certificates(
            args.data_dir, namespace=args.namespace, force=args.force
        ).items():
            print(f"{name}: {paths.cert} {paths.key} (CA {paths.ca})")
    elif args.command == "token":
        try:
            minted = mint_token(
                args.role, args.sub, args.tenant, data_dir=args.data_dir, ttl=timedelta(minutes=args.minutes)
            )
        except ValueError as error:
            parser.error(str(error))
        print(minted)
    elif args.command == "audit":
        booking, seat, payment = (
            str(
                getattr(args, f"{service}_url")
                or os.environ.get(f"{service.upper()}_DATABASE_URL")
                or os.environ["DATABASE_URL"]
            )
            for service in ("booking", "seat", "payment")
        )
        return run_audit(booking, seat, payment)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
