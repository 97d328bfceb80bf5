"""The dev certificate authority and per-service certificates for mTLS, kept in the data folder.

`write_dev_certificates(data_dir)` makes `<data_dir>/certs/`:

    ca.pem, ca-key.pem            the dev CA (its key never leaves this folder)
    <name>.pem, <name>-key.pem    one certificate per service (CN = the name), valid for TLS
                                  servers and clients, with SANs for localhost, 127.0.0.1, ::1
                                  and the Kubernetes Services `<name>` and `<name>-headless`
                                  (short, `.<namespace>`, `.svc` and `.svc.cluster.local` forms)

The CA is reused across runs; a certificate is reissued when it is missing, was signed by another
CA or expires within a week. Files are replaced atomically, so running services pick them up on
their next handshake. Keys are EC P-256 and readable by their owner only.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The services that present certificates; `cli` is the developer's client (grpcurl) and no service.
CERTIFICATE_NAMES = ("booking", "seat", "payment", "gateway", "cli")
CA_VALIDITY = timedelta(days=365)
LEAF_VALIDITY = timedelta(days=90)
RENEW_BEFORE = timedelta(days=7)
_LOCAL_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and key that issue leaf certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(
        cls,
        common_name: str = "Farebox dev CA",
        *,
        not_before: datetime | None = None,
        validity: timedelta = CA_VALIDITY,
    ) -> CertificateAuthority:
        """A new self-signed CA that may sign leaf certificates only."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or datetime.now(UTC) - timedelta(minutes=5)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signing_certificates=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate=certificate, key=key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """The CA from its PEM files."""
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an EC key")
        return cls(certificate=x509.load_pem_x509_certificate(cert_pem), key=key)

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The CA key, unencrypted PKCS#8 PEM."""
        return _private_pem(self.key)

    def issue(
        self,
        common_name: str,
        *,
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address] = _LOCAL_IPS,
        not_before: datetime | None = None,
        validity: timedelta = LEAF_VALIDITY,
    ) -> IssuedCertificate:
        """A leaf certificate for TLS servers and clients, named `common_name`."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or datetime.now(UTC) - timedelta(minutes=5)
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(address) for address in ip_addresses]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing_certificates=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return IssuedCertificate(
            cert_pem=certificate.public_bytes(serialization.Encoding.PEM), key_pem=_private_pem(key)
        )


@dataclass(frozen=True)
class CertificatePaths:
    """Where one service's certificate, key and the CA it trusts are on disk."""

    ca: Path
    cert: Path
    key: Path

    def environment(self) -> dict[str, str]:
        """The FAREBOX_TLS_* variables that point a service at these files."""
        return {
            "FAREBOX_TLS_CA": str(self.ca),
            "FAREBOX_TLS_CERT": str(self.cert),
            "FAREBOX_TLS_KEY": str(self.key),
        }


def service_dns_names(name: str, namespace: str) -> list[str]:
    """The DNS names a service is reached by: localhost, and its Kubernetes Services (plain and headless)."""
    names = ["localhost"]
    for service in (name, f"{name}-headless"):
        names += [
            service,
            f"{service}.{namespace}",
            f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local",
        ]
    return names


def certificate_paths(data_dir: Path, name: str) -> CertificatePaths:
    """The paths of `name`'s certificate files under `data_dir`."""
    folder = data_dir / "certs"
    return CertificatePaths(ca=folder / "ca.pem", cert=folder / f"{name}.pem", key=folder / f"{name}-key.pem")


def write_dev_certificates(
    data_dir: Path,
    names: Sequence[str] = CERTIFICATE_NAMES,
    *,
    namespace: str = "farebox",
    force: bool = False,
) -> dict[str, CertificatePaths]:
    """Creates (or keeps) the dev CA and a certificate per name; returns each name's paths."""
    folder = data_dir / "certs"
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    if not force and ca_cert.exists() and ca_key.exists():
        ca = CertificateAuthority.load(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = CertificateAuthority.create()
        write_file(ca_key, ca.key_pem, private=True)
        write_file(ca_cert, ca.cert_pem)
    paths = {}
    for name in names:
        paths[name] = certificate_paths(data_dir, name)
        if force or _needs_issuing(paths[name].cert, ca):
            issued = ca.issue(name, dns_names=service_dns_names(name, namespace))
            write_file(paths[name].key, issued.key_pem, private=True)
            write_file(paths[name].cert, issued.cert_pem)
    return paths


def write_file(path: Path, content: bytes, *, private: bool = False) -> None:
    """Replaces `path` atomically; a private file is readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _needs_issuing(cert_path: Path, ca: CertificateAuthority) -> bool:
    if not cert_path.exists() or not cert_path.with_name(f"{cert_path.stem}-key.pem").exists():
        return True
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if certificate.issuer != ca.certificate.subject:
        return True
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return True
    return certificate.not_valid_after_utc - datetime.now(UTC) < RENEW_BEFORE


def _key_usage(*, signing_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signing_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signing_certificates,
        crl_sign=signing_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
