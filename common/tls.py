"""TLS credentials from the certificate paths in settings, following the files as they are rotated.

A server reads its certificate, key and CA again when the files change: gRPC asks for the
configuration before every handshake, and the files' identity (inode, size, mtime) is compared
first, so an unchanged file costs one `stat`. A half-written or mismatched pair is refused with a
warning and the previous configuration stays in use. Existing connections keep their session;
new ones get the new certificate. A client channel is rebuilt when its files change
(`ReloadingChannel`).

A port that requires client certificates accepts only certificates from the configured CA; its
peers' verified common name is their service identity (`peer_common_name`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common.channels import create_channel
from common.security_settings import TlsSettings

log = structlog.get_logger()

_Signature = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class TlsMaterial:
    """The PEM bytes of a CA bundle, a certificate chain and its private key."""

    ca: bytes
    cert: bytes
    key: bytes


class CertificateFiles:
    """The CA, certificate and key files of one process, read whole and checked as a pair."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self.paths = (ca, cert, key)
        self._seen: _Signature | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: TlsSettings) -> CertificateFiles:
        """The files named by FAREBOX_TLS_CA / _CERT / _KEY."""
        if settings.ca is None or settings.cert is None or settings.key is None:
            raise ValueError("TLS settings name no certificate files")
        return cls(settings.ca, settings.cert, settings.key)

    def signature(self) -> _Signature:
        """The files' identity now: any rewrite, rename or symlink swap changes it."""
        stats = [os.stat(path) for path in self.paths]
        return tuple((stat.st_ino, stat.st_size, stat.st_mtime_ns) for stat in stats)

    def changed(self) -> bool:
        """True once for each change of the files since the last call (or since `read`)."""
        try:
            signature = self.signature()
        except OSError:
            return False
        with self._lock:
            if signature == self._seen:
                return False
            self._seen = signature
            return True

    def read(self) -> TlsMaterial:
        """Reads the three files; raises ValueError when they do not form a usable set."""
        with self._lock:
            self._seen = self.signature()
        ca, cert, key = (path.read_bytes() for path in self.paths)
        check_pair(cert, key)
        try:
            x509.load_pem_x509_certificates(ca)
        except ValueError as error:
            raise ValueError(f"{self.paths[0]}: no PEM certificate") from error
        return TlsMaterial(ca=ca, cert=cert, key=key)


def check_pair(cert_pem: bytes, key_pem: bytes) -> None:
    """Raises ValueError unless the first certificate of the chain belongs to the private key."""
    certificate = x509.load_pem_x509_certificates(cert_pem)[0]
    key = serialization.load_pem_private_key(key_pem, password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if certificate.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        raise ValueError("the certificate does not belong to the private key")


class ServerCertificateReloader:
    """The certificate-configuration fetcher gRPC calls before each handshake."""

    def __init__(self, files: CertificateFiles) -> None:
        self._files = files
        self.initial = self._configuration(files.read())

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when the files changed and are usable, else None (keep the current)."""
        if not self._files.changed():
            return None
        try:
            material = self._files.read()
        except (OSError, ValueError) as error:
            log.warning("tls_reload_refused", error=str(error), files=[str(p) for p in self._files.paths])
            return None
        log.info("tls_certificate_reloaded", cert=str(self._files.paths[1]))
        return self._configuration(material)

    @staticmethod
    def _configuration(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(material.key, material.cert)], material.ca)


def server_credentials(settings: TlsSettings, *, require_client_auth: bool) -> grpc.ServerCredentials | None:
    """TLS server credentials that follow the files; None (and a warning) when plaintext is chosen.

    With `require_client_auth` the handshake fails unless the client presents a certificate
    signed by the configured CA (for internal ports).
    """
    if settings.insecure_dev:
        log.warning(
            "plaintext_transport", setting="FAREBOX_INSECURE_DEV", require_client_auth=require_client_auth
        )
        return None
    reloader = ServerCertificateReloader(CertificateFiles.from_settings(settings))
    return grpc.dynamic_ssl_server_credentials(
        reloader.initial, reloader, require_client_authentication=require_client_auth
    )


def bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    """Adds a TLS port, or a plaintext one when `credentials` is None; returns the bound port."""
    if credentials is None:
        return int(server.add_insecure_port(address))
    return int(server.add_secure_port(address, credentials))


def channel_credentials(settings: TlsSettings) -> grpc.ChannelCredentials | None:
    """Client credentials presenting this process's certificate; None when plaintext is chosen."""
    if settings.insecure_dev:
        return None
    material = CertificateFiles.from_settings(settings).read()
    return grpc.ssl_channel_credentials(material.ca, material.key, material.cert)


class ReloadingChannel:
    """A client channel to one target, rebuilt with fresh credentials when the certificate files change.

    Take `channel()` for each call (or each short batch of calls); a replaced channel is closed
    after `grace`, so calls already running on it finish.
    """

    def __init__(
        self,
        target: str,
        settings: TlsSettings,
        *,
        default_timeout: float = 5.0,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
        grace: timedelta = timedelta(seconds=30),
    ) -> None:
        self._target = target
        self._settings = settings
        self._default_timeout = default_timeout
        self._interceptors = interceptors
        self._grace = grace
        self._files = None if settings.insecure_dev else CertificateFiles.from_settings(settings)
        self._channel = self._open()
        self._retiring: set[asyncio.Task[None]] = set()

    def channel(self) -> grpc.aio.Channel:
        """The current channel, replaced first if the certificate files changed."""
        if self._files is not None and self._files.changed():
            try:
                fresh = self._open()
            except (OSError, ValueError) as error:
                log.warning("tls_client_reload_refused", target=self._target, error=str(error))
                return self._channel
            retired, self._channel = self._channel, fresh
            task = asyncio.get_running_loop().create_task(retired.close(self._grace.total_seconds()))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            log.info("tls_client_certificate_reloaded", target=self._target)
        return self._channel

    async def close(self) -> None:
        """Closes the current channel and any still retiring."""
        await self._channel.close()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    def _open(self) -> grpc.aio.Channel:
        credentials = None
        if self._files is not None:
            material = self._files.read()
            credentials = grpc.ssl_channel_credentials(material.ca, material.key, material.cert)
        return create_channel(
            self._target,
            credentials=credentials,
            default_timeout=self._default_timeout,
            interceptors=self._interceptors,
        )


def peer_common_name(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the client certificate the handshake verified, or None without one."""
    auth = context.auth_context()
    if b"ssl" not in auth.get("transport_security_type", ()):
        return None
    names = list(auth.get("x509_common_name", ()))
    return names[0].decode() if len(names) == 1 else None


def peer_ip(context: grpc.aio.ServicerContext) -> str:
    """The caller's IP address from `context.peer()` (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`), else the raw peer."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0].strip("[]") if kind in ("ipv4", "ipv6") else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return peer
