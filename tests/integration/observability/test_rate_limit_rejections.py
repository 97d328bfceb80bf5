"""Calls refused by the rate limiter are counted per method in farebox_rate_limit_rejections_total."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
from redis.asyncio import Redis

from common.policy import RateLimitClass
from common.rate_limit import RateLimiter, bucket_key
from common.security_settings import RateLimit, RateLimitSettings
from tests.integration.observability.samples import sample
from tests.integration.security.probe import SEAT_SERVICE, call, probe_server

ONE_A_MINUTE = RateLimit(1, timedelta(minutes=1))
LIMITS = RateLimitSettings(
    browse=ONE_A_MINUTE,
    booking=ONE_A_MINUTE,
    admin=ONE_A_MINUTE,
    redis_timeout=timedelta(seconds=10),
    redis_cooldown=timedelta(minutes=5),
)
REJECTIONS = "farebox_rate_limit_rejections_total"
GET_SEAT_MAP = f"/{SEAT_SERVICE}/GetSeatMap"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client whose local anonymous browse bucket is full before the test and after it."""
    client = Redis.from_url(redis_url)
    local = bucket_key("ip:127.0.0.1", RateLimitClass.RATE_LIMIT_CLASS_BROWSE)
    await client.delete(local)
    yield client
    await client.delete(local)
    await client.aclose()


async def test_each_refusal_is_counted_for_its_method(redis: Redis) -> None:
    before = sample(REJECTIONS, method=GET_SEAT_MAP)
    async with probe_server(limiter=RateLimiter(redis, LIMITS)) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            await call(channel, "GetSeatMap")
            assert sample(REJECTIONS, method=GET_SEAT_MAP) == before
            for _ in range(2):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(channel, "GetSeatMap")
                assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sample(REJECTIONS, method=GET_SEAT_MAP) == before + 2
