"""Test signing keys and token builders, including the forged tokens the verifier must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.farebox.test"
AUDIENCE = "farebox-test"


@dataclass(frozen=True)
class SigningKey:
    """A private key, its algorithm and key id."""

    kid: str
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @classmethod
    def es256(cls, kid: str = "es-1") -> SigningKey:
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def rs256(cls, kid: str = "rs-1") -> SigningKey:
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def public_jwk(self) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.algorithm == "ES256" else RSAAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, payload: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(
            payload, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid, **headers}
        )


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for a traveller, changed by `overrides` (a None value removes the claim)."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "traveller-1",
        "roles": ["traveller"],
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    payload.update(overrides)
    return {name: value for name, value in payload.items() if value is not None}


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    """Writes the public JWKS of `keys` to `path` (replacing it, so its identity changes)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"keys": [key.public_jwk() for key in keys]}))
    temporary.replace(path)
    return path


def _segment(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), default=lambda value: int(value.timestamp())).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any], kid: str = "es-1") -> str:
    """An `alg: none` token: header and payload, empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(payload)}."


def hmac_token(secret: bytes, payload: dict[str, Any], kid: str = "es-1") -> str:
    """An HS256 token whose HMAC secret is `secret` (the key-confusion attack uses the public key)."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
