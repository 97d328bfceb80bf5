"""Fixtures of the security tests: a throw-away PKI on disk and a JWKS file with a signing key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from common.jwt_auth import JwksFile, JwtVerifier
from farebox_cli.certs import CertificateAuthority
from tests.integration.security.pki import Pki
from tests.unit.security.signing import AUDIENCE, ISSUER, SigningKey, write_jwks


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = CertificateAuthority.create("Farebox test CA")
    pki = Pki(ca=ca, folder=tmp_path / "certs")
    pki.install("seat", ca.issue("seat", dns_names=["localhost"]))
    return pki


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.es256("test-key")


@pytest.fixture
def verifier(tmp_path: Path, signing_key: SigningKey) -> JwtVerifier:
    jwks = write_jwks(tmp_path / "jwks.json", signing_key)
    return JwtVerifier(JwksFile(jwks), issuer=ISSUER, audience=AUDIENCE, leeway=timedelta(seconds=30))
