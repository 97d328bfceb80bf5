"""Bearer-token verification: what is accepted, and every token that must be refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.errors import Unauthenticated
from common.jwt_auth import JwksFile, JwtVerifier, StaticKey, VerificationKey, principal_from_claims
from common.policy import Role
from tests.unit.security.signing import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    claims,
    hmac_token,
    unsigned_token,
    write_jwks,
)

LEEWAY = timedelta(seconds=30)


@pytest.fixture(scope="module")
def es_key() -> SigningKey:
    return SigningKey.es256("es-1")


@pytest.fixture(scope="module")
def rs_key() -> SigningKey:
    return SigningKey.rs256("rs-1")


@pytest.fixture
def jwks(tmp_path: Path, es_key: SigningKey, rs_key: SigningKey) -> Path:
    return write_jwks(tmp_path / "jwks.json", es_key, rs_key)


@pytest.fixture
def verifier(jwks: Path) -> JwtVerifier:
    return JwtVerifier(JwksFile(jwks), issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY)


async def refused(verifier: JwtVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.metadata == {"error": "invalid_token"}
    return caught.value


async def test_es256_and_rs256_tokens_become_principals(
    verifier: JwtVerifier, es_key: SigningKey, rs_key: SigningKey
) -> None:
    operator = await verifier.verify(es_key.sign(claims(sub="op-user", roles=["operator"], tenant="acme")))
    assert operator.subject == "op-user"
    assert operator.roles == {Role.ROLE_OPERATOR}
    assert operator.tenant == "acme"
    traveller = await verifier.verify(rs_key.sign(claims()))
    assert traveller.subject == "traveller-1" and traveller.roles == {Role.ROLE_TRAVELLER}


async def test_expired_token_is_refused(verifier: JwtVerifier, es_key: SigningKey) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    error = await refused(verifier, es_key.sign(claims(iat=past, nbf=past, exp=past + timedelta(minutes=5))))
    assert error.reason == "TOKEN_EXPIRED"


async def test_expiry_within_the_leeway_is_accepted(verifier: JwtVerifier, es_key: SigningKey) -> None:
    now = datetime.now(UTC)
    token = es_key.sign(
        claims(iat=now - timedelta(minutes=5), nbf=now - timedelta(minutes=5), exp=now - timedelta(seconds=5))
    )
    assert (await verifier.verify(token)).subject == "traveller-1"


async def test_token_not_yet_valid_is_refused(verifier: JwtVerifier, es_key: SigningKey) -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    error = await refused(verifier, es_key.sign(claims(nbf=later, exp=later + timedelta(minutes=5))))
    assert error.reason == "TOKEN_INVALID"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-service"},
        {"iss": "https://evil.example"},
        {"exp": None},
        {"aud": None},
        {"iss": None},
        {"sub": None},
        {"sub": ""},
        {"roles": "admin"},
        {"tenant": 7},
        {"roles": ["operator"]},  # an operator without a tenant
    ],
    ids=str,
)
async def test_tokens_with_wrong_or_missing_claims_are_refused(
    verifier: JwtVerifier, es_key: SigningKey, overrides: dict[str, object]
) -> None:
    error = await refused(verifier, es_key.sign(claims(**overrides)))
    assert error.reason == "TOKEN_INVALID"


async def test_alg_none_is_refused(verifier: JwtVerifier) -> None:
    error = await refused(verifier, unsigned_token(claims(roles=["admin"])))
    assert "algorithm 'none'" in error.message


async def test_hs256_signed_with_the_public_key_is_refused(verifier: JwtVerifier, es_key: SigningKey) -> None:
    forged = hmac_token(es_key.public_pem(), claims(roles=["admin"]), kid=es_key.kid)
    error = await refused(verifier, forged)
    assert "algorithm 'HS256'" in error.message


async def test_hs256_is_refused_even_by_a_pem_key_source(tmp_path: Path, rs_key: SigningKey) -> None:
    verifier = JwtVerifier(
        StaticKey(rs_key.public_pem().decode()), issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY
    )
    await refused(verifier, hmac_token(rs_key.public_pem(), claims(roles=["admin"])))
    assert (await verifier.verify(rs_key.sign(claims()))).subject == "traveller-1"


async def test_algorithm_must_match_the_key(
    verifier: JwtVerifier, es_key: SigningKey, rs_key: SigningKey
) -> None:
    # An RS256 token naming the EC key's kid: refused before any signature check.
    error = await refused(verifier, rs_key.sign(claims(), kid=es_key.kid))
    assert "does not match" in error.message


async def test_signature_by_another_key_is_refused(verifier: JwtVerifier) -> None:
    impostor = SigningKey.es256("es-1")
    error = await refused(verifier, impostor.sign(claims(roles=["admin"])))
    assert error.reason == "TOKEN_INVALID"


async def test_unknown_kid_is_refused_until_the_jwks_file_has_it(
    verifier: JwtVerifier, jwks: Path, es_key: SigningKey
) -> None:
    rotated = SigningKey.es256("es-2")
    token = rotated.sign(claims())
    error = await refused(verifier, token)
    assert "unknown" in error.message
    write_jwks(jwks, es_key, rotated)
    assert (await verifier.verify(token)).subject == "traveller-1"


async def test_malformed_and_oversized_tokens_are_refused(verifier: JwtVerifier, es_key: SigningKey) -> None:
    await refused(verifier, "not-a-jwt")
    await refused(verifier, es_key.sign(claims(padding="x" * 9000)))
    await refused(verifier, es_key.sign(claims(), crit=["exp"]))


def test_roles_map_to_role_values_and_service_never_comes_from_a_token() -> None:
    principal = principal_from_claims(
        {"sub": "u", "roles": ["traveller", "admin", "service", "superuser"], "tenant": ""}
    )
    assert principal.roles == {Role.ROLE_TRAVELLER, Role.ROLE_ADMIN}


def test_a_token_without_roles_has_none() -> None:
    assert principal_from_claims({"sub": "u"}).roles == frozenset()


class CountingKeys(StaticKey):
    """A static key that counts how often a verification asked for it."""

    asked = 0

    async def key_for(self, kid: str | None) -> VerificationKey | None:
        CountingKeys.asked += 1
        return await super().key_for(kid)


async def test_a_verified_token_is_checked_once_and_a_refused_one_every_time(es_key: SigningKey) -> None:
    keys = CountingKeys(es_key.public_pem().decode())
    verifier = JwtVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY)
    CountingKeys.asked = 0
    token = es_key.sign(claims())
    for _ in range(3):
        assert (await verifier.verify(token)).subject == "traveller-1"
    assert CountingKeys.asked == 1
    wrong_audience = es_key.sign(claims(aud="someone-else"))
    for _ in range(2):
        await refused(verifier, wrong_audience)
    assert CountingKeys.asked == 3
