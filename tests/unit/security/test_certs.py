"""The dev CA and per-service certificates."""

from __future__ import annotations

import ipaddress
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from common.tls import check_pair
from farebox_cli.certs import CertificateAuthority, write_dev_certificates


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_every_service_gets_a_certificate_from_the_ca(tmp_path: Path) -> None:
    paths = write_dev_certificates(tmp_path, ["seat", "booking"])
    ca = load(paths["seat"].ca)
    for name, files in paths.items():
        certificate = load(files.cert)
        certificate.verify_directly_issued_by(ca)
        check_pair(files.cert.read_bytes(), files.key.read_bytes())
        assert certificate.subject.rfc4514_string() == f"CN={name}"
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    sans = load(paths["seat"].cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "seat.farebox.svc.cluster.local", "seat-headless.farebox.svc"} <= set(
        sans.get_values_for_type(x509.DNSName)
    )
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert stat.S_IMODE((tmp_path / "certs" / "ca-key.pem").stat().st_mode) == 0o600


def test_a_second_run_keeps_the_ca_and_valid_certificates(tmp_path: Path) -> None:
    first = write_dev_certificates(tmp_path, ["seat"])
    before = (first["seat"].ca.read_bytes(), first["seat"].cert.read_bytes())
    second = write_dev_certificates(tmp_path, ["seat"])
    assert (second["seat"].ca.read_bytes(), second["seat"].cert.read_bytes()) == before


def test_certificates_near_expiry_or_from_another_ca_are_reissued(tmp_path: Path) -> None:
    paths = write_dev_certificates(tmp_path, ["seat", "booking"])
    soon = CertificateAuthority.load(
        paths["seat"].ca.read_bytes(), (tmp_path / "certs" / "ca-key.pem").read_bytes()
    )
    expiring = soon.issue("seat", validity=timedelta(days=2))
    paths["seat"].cert.write_bytes(expiring.cert_pem)
    paths["seat"].key.write_bytes(expiring.key_pem)
    paths["booking"].cert.write_bytes(CertificateAuthority.create("Other CA").issue("booking").cert_pem)
    write_dev_certificates(tmp_path, ["seat", "booking"])
    ca = load(paths["seat"].ca)
    for name in ("seat", "booking"):
        certificate = load(paths[name].cert)
        certificate.verify_directly_issued_by(ca)
        assert certificate.not_valid_after_utc - datetime.now(UTC) > timedelta(days=30)


def test_the_cli_writes_the_certificates(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "farebox_cli", "certs", "--data-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("booking", "seat", "payment", "gateway", "cli"):
        assert (tmp_path / "certs" / f"{name}.pem").exists() and f"{name}: " in done.stdout
