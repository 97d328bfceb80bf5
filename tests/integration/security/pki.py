"""A throw-away PKI for the security tests: the Farebox CA, a server's files, client material."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common.security_settings import TlsSettings
from farebox_cli.certs import CertificateAuthority, IssuedCertificate, write_file


@dataclass(frozen=True)
class ClientFiles:
    """PEM bytes a client presents: the CA it trusts, and optionally its certificate and key."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None


@dataclass
class Pki:
    """The Farebox CA, a server's files on disk, and client material signed by various CAs."""

    ca: CertificateAuthority
    folder: Path

    @property
    def server_settings(self) -> TlsSettings:
        return self.settings("seat")

    def settings(self, name: str) -> TlsSettings:
        return TlsSettings(
            ca=self.folder / "ca.pem",
            cert=self.folder / f"{name}.pem",
            key=self.folder / f"{name}-key.pem",
            insecure_dev=False,
            service_identities=frozenset({"booking", "payment"}),
            trusted_proxies=frozenset({"gateway"}),
        )

    def install(self, name: str, issued: IssuedCertificate, ca: CertificateAuthority | None = None) -> None:
        """Writes `name`'s certificate and key (and the CA) the way a rotation does: atomically."""
        write_file(self.folder / f"{name}-key.pem", issued.key_pem, private=True)
        write_file(self.folder / f"{name}.pem", issued.cert_pem)
        write_file(self.folder / "ca.pem", (ca or self.ca).cert_pem)

    def client(self, name: str | None, ca: CertificateAuthority | None = None, **issue: Any) -> ClientFiles:
        """A client trusting the Farebox CA, presenting `name`'s certificate from `ca` (default: ours)."""
        if name is None:
            return ClientFiles(ca=self.ca.cert_pem)
        issued = (ca or self.ca).issue(name, **issue)
        return ClientFiles(ca=self.ca.cert_pem, cert=issued.cert_pem, key=issued.key_pem)


def expired() -> dict[str, object]:
    """Issue arguments for a certificate that expired yesterday."""
    return {"not_before": datetime.now(UTC) - timedelta(days=10), "validity": timedelta(days=9)}
