"""Bearer tokens and roles over gRPC: every refusal, and the principal the handlers see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from common.errors import error_info
from common.interceptors.auth import AuthInterceptor
from common.interceptors.context import RequestContextInterceptor
from common.interceptors.errors import ErrorMappingInterceptor
from common.jwt_auth import JwtVerifier
from common.policy import Role
from tests.integration.security.probe import UNDECLARED, call, probe_server
from tests.unit.security.signing import SigningKey, claims, hmac_token, unsigned_token


@pytest.fixture
async def channel(verifier: JwtVerifier) -> AsyncIterator[grpc.aio.Channel]:
    async with probe_server(verifier=verifier) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            yield channel


async def refused(channel: grpc.aio.Channel, method: str, token: str | None, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(channel, method, token)
    assert caught.value.code() == code, caught.value.details()
    info = error_info(caught.value)
    assert info is not None
    return info.reason


async def test_no_token_is_unauthenticated(channel: grpc.aio.Channel) -> None:
    assert (
        await refused(channel, "CreateTrip", None, grpc.StatusCode.UNAUTHENTICATED) == "CREDENTIALS_MISSING"
    )


async def test_expired_token_is_unauthenticated(channel: grpc.aio.Channel, signing_key: SigningKey) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    token = signing_key.sign(claims(roles=["admin"], iat=past, nbf=past, exp=past + timedelta(hours=1)))
    assert await refused(channel, "CreateTrip", token, grpc.StatusCode.UNAUTHENTICATED) == "TOKEN_EXPIRED"


async def test_wrong_audience_is_unauthenticated(channel: grpc.aio.Channel, signing_key: SigningKey) -> None:
    token = signing_key.sign(claims(roles=["admin"], aud="payments-only"))
    assert await refused(channel, "CreateTrip", token, grpc.StatusCode.UNAUTHENTICATED) == "TOKEN_INVALID"


async def test_alg_none_is_unauthenticated(channel: grpc.aio.Channel, signing_key: SigningKey) -> None:
    token = unsigned_token(claims(roles=["admin"]), kid=signing_key.kid)
    assert await refused(channel, "CreateTrip", token, grpc.StatusCode.UNAUTHENTICATED) == "TOKEN_INVALID"


async def test_hs256_signed_with_the_public_key_is_unauthenticated(
    channel: grpc.aio.Channel, signing_key: SigningKey
) -> None:
    token = hmac_token(signing_key.public_pem(), claims(roles=["admin"]), kid=signing_key.kid)
    assert await refused(channel, "CreateTrip", token, grpc.StatusCode.UNAUTHENTICATED) == "TOKEN_INVALID"


async def test_an_invalid_token_is_refused_even_where_anonymous_is_allowed(channel: grpc.aio.Channel) -> None:
    await refused(channel, "GetSeatMap", "garbage", grpc.StatusCode.UNAUTHENTICATED)


async def test_wrong_role_is_permission_denied(channel: grpc.aio.Channel, signing_key: SigningKey) -> None:
    traveller = signing_key.sign(claims(roles=["traveller"]))
    assert (
        await refused(channel, "CreateTrip", traveller, grpc.StatusCode.PERMISSION_DENIED)
        == "ROLE_NOT_ALLOWED"
    )
    operator = signing_key.sign(claims(sub="op-1", roles=["operator"], tenant="acme"))
    await refused(channel, "HoldSeats", operator, grpc.StatusCode.PERMISSION_DENIED)


async def test_a_declared_role_gets_in_and_the_handler_sees_the_principal(
    channel: grpc.aio.Channel, signing_key: SigningKey
) -> None:
    token = signing_key.sign(claims(sub="op-1", roles=["operator"], tenant="acme"))
    echoed = await call(channel, "CreateTrip", token)
    assert echoed == {"x-subject": "op-1", "x-roles": str(Role.ROLE_OPERATOR), "x-tenant": "acme"}


async def test_anonymous_reads_are_allowed_and_streams_are_authenticated(
    channel: grpc.aio.Channel, signing_key: SigningKey
) -> None:
    assert (await call(channel, "GetSeatMap"))["x-subject"] == ""
    assert (await call(channel, "WatchSeatMap"))["x-subject"] == ""
    token = signing_key.sign(claims(sub="t-9"))
    assert (await call(channel, "WatchSeatMap", token))["x-subject"] == "t-9"
    await refused(channel, "WatchSeatMap", "garbage", grpc.StatusCode.UNAUTHENTICATED)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "token-without-scheme"])
async def test_a_malformed_authorization_header_is_unauthenticated(
    verifier: JwtVerifier, header: str
) -> None:
    async with probe_server(verifier=verifier) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(channel, "GetSeatMap", metadata=(("authorization", header),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_tokens_are_refused_where_no_key_source_is_configured(signing_key: SigningKey) -> None:
    async with probe_server(verifier=None) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            await refused(channel, "GetSeatMap", signing_key.sign(claims()), grpc.StatusCode.UNAUTHENTICATED)


async def test_a_method_without_policy_is_denied_by_the_auth_interceptor_alone(
    verifier: JwtVerifier, signing_key: SigningKey
) -> None:
    # No PolicyInterceptor in this chain: the auth interceptor denies by default on its own.
    chain = [RequestContextInterceptor(), ErrorMappingInterceptor(), AuthInterceptor(verifier, frozenset())]
    admin = signing_key.sign(claims(roles=["admin"]))
    async with probe_server(chain=chain) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            undeclared = channel.unary_unary(UNDECLARED)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await undeclared(b"", metadata=(("authorization", f"Bearer {admin}"),), timeout=10)
            assert (await call(channel, "CreateTrip", admin))["x-subject"] == "traveller-1"
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
