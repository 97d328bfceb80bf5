"""Dev bearer tokens: an ES256 key pair in the data folder and `mint_token` to sign with it.

`<data_dir>/jwt/signing-key.pem` is the private key (owner-readable only, never in the repo);
`<data_dir>/jwt/jwks.json` publishes its public half, which `make run` gives the services as
FAREBOX_JWKS_FILE. Tokens carry the claims `common.jwt_auth` reads: sub, roles, tenant.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from common.jwt_auth import ROLES_CLAIM, SUBJECT_CLAIM, TENANT_CLAIM, TOKEN_ROLES
from farebox_cli.certs import write_file

DEV_ISSUER = "https://farebox.local/dev"
DEV_AUDIENCE = "farebox"
DEFAULT_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class DevSigningKey:
    """The dev private key and its key id (the RFC 7638 thumbprint of its public JWK)."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey


def jwks_path(data_dir: Path) -> Path:
    """Where the public JWKS of the dev key is."""
    return data_dir / "jwt" / "jwks.json"


def jwt_environment(data_dir: Path) -> dict[str, str]:
    """The FAREBOX_JWT_* / FAREBOX_JWKS_FILE variables that make a service trust the dev key."""
    return {
        "FAREBOX_JWKS_FILE": str(jwks_path(data_dir)),
        "FAREBOX_JWT_ISSUER": DEV_ISSUER,
        "FAREBOX_JWT_AUDIENCE": DEV_AUDIENCE,
    }


def ensure_dev_key(data_dir: Path) -> DevSigningKey:
    """The dev signing key, created with its JWKS on first use."""
    private_path = data_dir / "jwt" / "signing-key.pem"
    if private_path.exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{private_path} is not an EC private key")
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_file(private_path, pem, private=True)
    public = public_jwk(key.public_key())
    if not jwks_path(data_dir).exists() or json.loads(jwks_path(data_dir).read_text()) != {"keys": [public]}:
        write_file(jwks_path(data_dir), json.dumps({"keys": [public]}, indent=2).encode())
    return DevSigningKey(kid=str(public["kid"]), private_key=key)


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The public JWK of a P-256 key, with `kid`, `use` and `alg`."""
    jwk = json.loads(str(ECAlgorithm.to_jwk(public_key)))
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {
        "kty": "EC",
        "crv": jwk["crv"],
        "x": jwk["x"],
        "y": jwk["y"],
        "kid": thumbprint,
        "use": "sig",
        "alg": "ES256",
    }


def mint_token(
    role: str | Sequence[str],
    sub: str,
    tenant: str = "",
    *,
    data_dir: Path,
    ttl: timedelta = DEFAULT_TTL,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    now: datetime | None = None,
) -> str:
    """An ES256 token for `sub` with the given role(s) and tenant, signed with the dev key."""
    roles = [role] if isinstance(role, str) else list(role)
    unknown = sorted(set(roles) - set(TOKEN_ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(TOKEN_ROLES)}")
    if "operator" in roles and not tenant:
        raise ValueError("an operator token needs a tenant")
    key = ensure_dev_key(data_dir)
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        SUBJECT_CLAIM: sub,
        ROLES_CLAIM: roles,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
    }
    if tenant:
        claims[TENANT_CLAIM] = tenant
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
