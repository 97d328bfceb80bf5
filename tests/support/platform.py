"""Real transport security and tokens for tests that run services as processes.

A dev CA issues a certificate per service (as `farebox certs` does); a test presents one of them to
reach a service's internal (mTLS) port as that service, or mints a bearer token for the public port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from farebox_cli.certs import certificate_paths, write_dev_certificates
from farebox_cli.tokens import ensure_dev_key, jwt_environment, mint_token


@dataclass(frozen=True)
class DevCredentials:
    """The certificates and token key under `data_dir`."""

    data_dir: Path

    @classmethod
    def create(cls, data_dir: Path) -> DevCredentials:
        """Writes the dev CA, every service's certificate and the token signing key."""
        write_dev_certificates(data_dir)
        ensure_dev_key(data_dir)
        return cls(data_dir)

    def service_env(self, name: str) -> dict[str, str]:
        """The FAREBOX_TLS_* and FAREBOX_JWT_* variables a service named `name` runs with."""
        return {**certificate_paths(self.data_dir, name).environment(), **jwt_environment(self.data_dir)}

    def channel_credentials(self, name: str) -> grpc.ChannelCredentials:
        """Client credentials presenting `name`'s certificate (a service identity on internal ports)."""
        paths = certificate_paths(self.data_dir, name)
        return grpc.ssl_channel_credentials(
            paths.ca.read_bytes(), paths.key.read_bytes(), paths.cert.read_bytes()
        )

    def ca_pem(self) -> bytes:
        """The dev CA certificate, for clients of public ports."""
        return certificate_paths(self.data_dir, "cli").ca.read_bytes()

    def token(self, role: str, subject: str, tenant: str = "") -> str:
        """A fresh bearer token for `subject` with `role`."""
        return mint_token(role, subject, tenant, data_dir=self.data_dir)

    def bearer(self, role: str, subject: str, tenant: str = "") -> tuple[tuple[str, str], ...]:
        """`authorization` metadata carrying a fresh token for `subject` with `role`."""
        return (("authorization", f"Bearer {self.token(role, subject, tenant)}"),)
