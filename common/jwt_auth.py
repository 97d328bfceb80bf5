"""Bearer-token verification: a signed JWT becomes a `Principal`, or the call is UNAUTHENTICATED.

Only RS256 and ES256 are accepted, and the token's `alg` must be the algorithm of the key that
verifies it: `none`, every HS* algorithm and a token re-signed with the public key as an HMAC
secret are refused before any signature check. Keys come from one source:

    JWKS file   re-read when the file changes
    JWKS URL    cached (FAREBOX_JWKS_CACHE_TTL), fetched again on an unknown `kid`
                (at most once per FAREBOX_JWKS_MIN_REFRESH)
    PEM key     one RSA (2048 bits or more) or P-256 key; tokens may omit `kid`

Checked: signature, `iss`, `aud`, `exp` (required) and `nbf` (when present), with a small leeway.

Claims read into the Principal (the names services rely on for tenant scoping):

    sub      Principal.subject   required; a traveller's bookings are the ones with this owner
    roles    Principal.roles     list of "traveller", "operator", "admin" -> Role values;
                                 unknown names are ignored; ROLE_SERVICE is never taken from a
                                 token (it comes only from a verified mTLS client certificate)
    tenant   Principal.tenant    the operator an operator token acts for (required with
                                 "operator"): an operator sees and changes only trips of this tenant

Refusals raise `common.errors.Unauthenticated` with reason TOKEN_EXPIRED or TOKEN_INVALID and
metadata {"error": "invalid_token"} (RFC 6750), for the translator's WWW-Authenticate header.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from common.errors import Unauthenticated
from common.policy import Role
from common.request_context import Principal
from common.security_settings import JwtSettings
from common.token_cache import VerifiedTokens

log = structlog.get_logger()

ALGORITHMS = ("RS256", "ES256")
SUBJECT_CLAIM = "sub"
ROLES_CLAIM = "roles"
TENANT_CLAIM = "tenant"
TOKEN_ROLES: Mapping[str, int] = {
    "traveller": Role.ROLE_TRAVELLER,
    "operator": Role.ROLE_OPERATOR,
    "admin": Role.ROLE_ADMIN,
}
MAX_TOKEN_BYTES = 8192
# ErrorInfo metadata of a refused token: the RFC 6750 error for the WWW-Authenticate challenge.
INVALID_TOKEN = {"error": "invalid_token"}
_MAX_JWKS_BYTES = 1 << 20
_MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class VerificationKey:
    """A public key, the one algorithm it verifies, and its key id."""

    kid: str | None
    algorithm: str
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def key_from_public(key: object, kid: str | None = None) -> VerificationKey:
    """Pins the algorithm by key type: RSA (>= 2048 bits) -> RS256, EC P-256 -> ES256."""
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return VerificationKey(kid, "RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return VerificationKey(kid, "ES256", key)
    raise ValueError("only RSA (2048 bits or more) and EC P-256 public keys verify tokens")


def keys_from_jwks(document: object) -> dict[str | None, VerificationKey]:
    """The signing keys of a JWKS document by kid; keys for other uses or algorithms are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS document is an object with a list of keys")
    keys: dict[str | None, VerificationKey] = {}
    for entry in document["keys"]:
        if (
            not isinstance(entry, dict)
            or entry.get("use", "sig") != "sig"
            or entry.get("kty") not in ("RSA", "EC")
        ):
            continue
        try:
            key = key_from_public(jwt.PyJWK(entry).key, entry.get("kid"))
        except (jwt.PyJWTError, ValueError) as error:
            log.warning("jwks_key_skipped", kid=entry.get("kid"), error=str(error))
            continue
        if entry.get("alg", key.algorithm) == key.algorithm:
            keys[key.kid] = key
    return keys


class KeySource(Protocol):
    """Where verification keys come from."""

    async def key_for(self, kid: str | None) -> VerificationKey | None:
        """The key with this kid (a token without kid matches a source holding one key)."""
        ...

    async def close(self) -> None:
        """Releases what the source holds open."""
        ...


def _pick(keys: Mapping[str | None, VerificationKey], kid: str | None) -> VerificationKey | None:
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid)


class StaticKey:
    """One PEM public key, given as the PEM itself or the path of a PEM file."""

    def __init__(self, pem_or_path: str) -> None:
        pem = pem_or_path if pem_or_path.lstrip().startswith("-----BEGIN") else Path(pem_or_path).read_text()
        self._key = key_from_public(load_pem_public_key(pem.encode()))

    async def key_for(self, kid: str | None) -> VerificationKey | None:
        """The key, whatever the kid."""
        return self._key

    async def close(self) -> None:
        """Nothing to release."""


class JwksFile:
    """A JWKS file, read again whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str | None, VerificationKey] = {}
        self._reload()

    async def key_for(self, kid: str | None) -> VerificationKey | None:
        """The key from the file as it is now (the last readable version, if it became unreadable)."""
        try:
            self._reload()
        except (OSError, ValueError) as error:
            log.warning("jwks_reload_failed", source=str(self._path), error=str(error))
        return _pick(self._keys, kid)

    async def close(self) -> None:
        """Nothing to release."""

    def _reload(self) -> None:
        stat = os.stat(self._path)
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if signature == self._seen:
            return
        self._seen = signature
        self._keys = keys_from_jwks(json.loads(self._path.read_text()))
        log.info("jwks_loaded", source=str(self._path), kids=sorted(str(kid) for kid in self._keys))


class JwksUrl:
    """A JWKS URL, cached for `ttl` and fetched again on an unknown kid (at most every `min_refresh`)."""

    def __init__(self, url: str, *, ttl: timedelta, min_refresh: timedelta, timeout: float = 5.0) -> None:
        self._url = url
        self._ttl = ttl.total_seconds()
        self._min_refresh = min_refresh.total_seconds()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._keys: dict[str | None, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def key_for(self, kid: str | None) -> VerificationKey | None:
        """The cached key, refreshing the cache first when it is stale or does not know the kid."""
        stale = self._fetched_at is None or time.monotonic() - self._fetched_at > self._ttl
        key = None if stale else _pick(self._keys, kid)
        if key is None:
            await self._refresh()
            key = _pick(self._keys, kid)
        return key

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def _refresh(self) -> None:
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return  # a refresh finished while this caller waited: use its keys
            if self._attempted_at is not None and time.monotonic() - self._attempted_at < self._min_refresh:
                return
            self._attempted_at = time.monotonic()
            try:
                self._keys = keys_from_jwks(await self._fetch())
                self._fetched_at = self._attempted_at
                log.info("jwks_loaded", source=self._url, kids=sorted(str(kid) for kid in self._keys))
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("jwks_fetch_failed", url=self._url, error=str(error) or type(error).__name__)
            finally:
                self._generation += 1

    async def _fetch(self) -> object:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.get(self._url, headers={"Accept": "application/json"}) as response:
            response.raise_for_status()
            body = await response.content.read(_MAX_JWKS_BYTES + 1)
        if len(body) > _MAX_JWKS_BYTES:
            raise ValueError("the JWKS document is too large")
        return json.loads(body)


def key_source(settings: JwtSettings) -> KeySource:
    """The key source the settings name."""
    if settings.jwks_file is not None:
        return JwksFile(settings.jwks_file)
    if settings.jwks_url is not None:
        return JwksUrl(settings.jwks_url, ttl=settings.jwks_cache_ttl, min_refresh=settings.jwks_min_refresh)
    if settings.public_key is not None:
        return StaticKey(settings.public_key)
    raise ValueError("no JWT key source is configured")


class JwtVerifier:
    """Verifies bearer tokens against one issuer, one audience and one key source."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: timedelta,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified = verified or VerifiedTokens()

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> JwtVerifier | None:
        """A verifier for the configured key source, or None when tokens are not accepted."""
        if not settings.enabled:
            return None
        return cls(
            key_source(settings), issuer=settings.issuer, audience=settings.audience, leeway=settings.leeway
        )

    async def verify(self, token: str) -> Principal:
        """The token's principal (from the cache when it was verified lately); raises Unauthenticated
        for any refusal."""
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        if len(token) > MAX_TOKEN_BYTES:
            raise _invalid("the token is too large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("the token is malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise _invalid(f"algorithm {algorithm!r} is not accepted")
        if "crit" in header or not (kid is None or isinstance(kid, str)):
            raise _invalid("the token header is not accepted")
        key = await self._keys.key_for(kid)
        if key is None:
            raise _invalid("the token's signing key is unknown")
        if key.algorithm != algorithm:
            raise _invalid("the token's algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", SUBJECT_CLAIM]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "the token has expired", reason="TOKEN_EXPIRED", metadata=INVALID_TOKEN
            ) from None
        except jwt.PyJWTError as error:
            raise _invalid(str(error)) from None
        principal = principal_from_claims(claims)
        self._verified.put(token, principal, float(claims["exp"]))
        return principal

    async def close(self) -> None:
        """Releases the key source."""
        await self._keys.close()


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The Principal of verified claims: `sub`, `roles` and `tenant`."""
    subject, names, tenant = (
        claims.get(SUBJECT_CLAIM),
        claims.get(ROLES_CLAIM, []),
        claims.get(TENANT_CLAIM, ""),
    )
    if not isinstance(subject, str) or not subject:
        raise _invalid(f"the {SUBJECT_CLAIM} claim must be a non-empty string")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _invalid(f"the {ROLES_CLAIM} claim must be a list of strings")
    if not isinstance(tenant, str):
        raise _invalid(f"the {TENANT_CLAIM} claim must be a string")
    roles = _roles(names)
    if Role.ROLE_OPERATOR in roles and not tenant:
        raise _invalid(f"an operator token needs a {TENANT_CLAIM} claim")
    return Principal(subject=subject, roles=roles, tenant=tenant)


def _roles(names: Iterable[str]) -> frozenset[int]:
    return frozenset(TOKEN_ROLES[name] for name in names if name in TOKEN_ROLES)


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason="TOKEN_INVALID", metadata=INVALID_TOKEN)
