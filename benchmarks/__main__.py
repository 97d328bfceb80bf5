"""`python -m benchmarks <scenario>|all|readme ...` runs scenarios; anything else is the ghz-style driver."""

from __future__ import annotations

import sys

from benchmarks import cli
from benchmarks.scenarios import COMMANDS


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMANDS:
        # Imported here: the scenarios pull in the stores, the services' stubs and matplotlib,
        # which the driver (and every driver process it spawns) does not need.
        from benchmarks.scenarios import runner

        return runner.main(args)
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
