"""Keys from a JWKS URL: cached, fetched again on an unknown kid, and never more often than allowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from common.errors import Unauthenticated
from common.jwt_auth import JwksUrl, JwtVerifier
from tests.unit.security.signing import AUDIENCE, ISSUER, SigningKey, claims


@dataclass
class JwksEndpoint:
    """An HTTP server publishing a JWKS document the test can change, counting its fetches."""

    keys: list[SigningKey]
    fetches: int = 0
    failing: bool = False
    url: str = ""
    runner: Any = field(default=None, repr=False)

    async def handle(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.failing:
            return web.Response(status=503)
        return web.json_response({"keys": [key.public_jwk() for key in self.keys]})


@pytest.fixture
async def endpoint() -> AsyncIterator[JwksEndpoint]:
    served = JwksEndpoint(keys=[SigningKey.es256("k1")])
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    yield served
    await runner.cleanup()


def verifier_for(endpoint: JwksEndpoint, min_refresh: timedelta) -> JwtVerifier:
    keys = JwksUrl(endpoint.url, ttl=timedelta(hours=1), min_refresh=min_refresh)
    return JwtVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=timedelta(seconds=30))


async def test_keys_are_cached(endpoint: JwksEndpoint) -> None:
    verifier = verifier_for(endpoint, min_refresh=timedelta(0))
    try:
        for _ in range(5):
            await verifier.verify(endpoint.keys[0].sign(claims()))
    finally:
        await verifier.close()
    assert endpoint.fetches == 1


async def test_an_unknown_kid_fetches_the_rotated_keys(endpoint: JwksEndpoint) -> None:
    verifier = verifier_for(endpoint, min_refresh=timedelta(0))
    try:
        await verifier.verify(endpoint.keys[0].sign(claims()))
        rotated = SigningKey.es256("k2")
        endpoint.keys.append(rotated)
        assert (await verifier.verify(rotated.sign(claims(sub="after-rotation")))).subject == "after-rotation"
    finally:
        await verifier.close()
    assert endpoint.fetches == 2


async def test_unknown_kids_cannot_hammer_the_endpoint(endpoint: JwksEndpoint) -> None:
    verifier = verifier_for(endpoint, min_refresh=timedelta(hours=1))
    try:
        await verifier.verify(endpoint.keys[0].sign(claims()))
        for index in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(SigningKey.es256(f"random-{index}").sign(claims()))
    finally:
        await verifier.close()
    assert endpoint.fetches == 1


async def test_an_unreachable_endpoint_keeps_the_cached_keys(endpoint: JwksEndpoint) -> None:
    verifier = verifier_for(endpoint, min_refresh=timedelta(0))
    try:
        await verifier.verify(endpoint.keys[0].sign(claims()))
        endpoint.failing = True
        with pytest.raises(Unauthenticated):
            await verifier.verify(SigningKey.es256("k9").sign(claims()))
        assert (await verifier.verify(endpoint.keys[0].sign(claims(sub="still")))).subject == "still"
    finally:
        await verifier.close()
    assert endpoint.fetches == 2


async def test_concurrent_unknown_kids_share_one_fetch(endpoint: JwksEndpoint) -> None:
    verifier = verifier_for(endpoint, min_refresh=timedelta(0))
    try:
        await verifier.verify(endpoint.keys[0].sign(claims()))
        rotated = SigningKey.es256("k2")
        endpoint.keys.append(rotated)
        principals = await asyncio.gather(
            *(verifier.verify(rotated.sign(claims(sub=f"u{i}"))) for i in range(10))
        )
    finally:
        await verifier.close()
    assert sorted(principal.subject for principal in principals) == sorted(f"u{i}" for i in range(10))
    assert endpoint.fetches == 2
