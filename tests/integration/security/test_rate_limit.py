"""Token buckets in Redis over gRPC: exhausted and refilled, per caller and class, and Redis down."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import grpc
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from common.errors import ResourceExhausted, error_info, retry_info
from common.jwt_auth import JwtVerifier
from common.policy import MethodPolicy, RateLimitClass, policy_for
from common.rate_limit import RateLimiter, bucket_key
from common.security_settings import RateLimit, RateLimitSettings
from common.tls import server_credentials
from tests.integration.security.pki import Pki
from tests.integration.security.probe import call, probe_server, secure_channel
from tests.unit.security.signing import SigningKey, claims

LIMITS = RateLimitSettings(
    browse=RateLimit(3, timedelta(minutes=1)),
    booking=RateLimit(2, timedelta(minutes=1)),
    admin=RateLimit(2, timedelta(minutes=1)),
    # Generous, so a loaded machine never turns a slow answer into fail-open here.
    redis_timeout=timedelta(seconds=10),
    redis_cooldown=timedelta(minutes=5),
)
GET_SEAT_MAP = "/farebox.seat.v1.SeatInventoryService/GetSeatMap"
CREATE_TRIP = "/farebox.seat.v1.SeatInventoryService/CreateTrip"


class FakeClock:
    """Seconds since the epoch that move only when the test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


def policy(method: str) -> MethodPolicy:
    declared = policy_for(method)
    assert declared is not None
    return declared


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
async def fresh_local_bucket(redis: Redis) -> AsyncIterator[None]:
    """Anonymous local callers share the bucket of 127.0.0.1: every test starts it full and leaves
    it full for other tests of the session (which may run services with rate limits on)."""
    local = bucket_key("ip:127.0.0.1", RateLimitClass.RATE_LIMIT_CLASS_BROWSE)
    await redis.delete(local)
    yield
    await redis.delete(local)


@pytest.fixture
def dead_redis_port() -> Iterator[int]:
    """A port bound by nobody listening, held for the test: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def caller() -> str:
    return f"sub:{uuid.uuid4().hex}"


async def test_a_bucket_is_exhausted_then_refilled_after_its_period(redis: Redis, clock: FakeClock) -> None:
    limiter, who, browse = RateLimiter(redis, LIMITS, clock=clock), caller(), policy(GET_SEAT_MAP)
    for _ in range(3):
        await limiter.check(who, browse)
    with pytest.raises(ResourceExhausted) as caught:
        await limiter.check(who, browse)
    assert caught.value.retry_after == timedelta(seconds=20)  # one token per 60s / 3
    clock.advance(timedelta(seconds=19))
    with pytest.raises(ResourceExhausted):
        await limiter.check(who, browse)
    clock.advance(timedelta(seconds=1))
    await limiter.check(who, browse)
    with pytest.raises(ResourceExhausted):
        await limiter.check(who, browse)
    clock.advance(timedelta(minutes=1))
    for _ in range(3):
        await limiter.check(who, browse)
    with pytest.raises(ResourceExhausted):
        await limiter.check(who, browse)


async def test_concurrent_calls_never_take_more_than_the_capacity(redis: Redis, clock: FakeClock) -> None:
    limiter, who, browse = RateLimiter(redis, LIMITS, clock=clock), caller(), policy(GET_SEAT_MAP)

    async def attempt() -> bool:
        try:
            await limiter.check(who, browse)
        except ResourceExhausted:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(40)))
    assert outcomes.count(True) == 3
    # Audit: the bucket in Redis is empty, not negative, and remembers the time of the takes.
    tokens, updated_us = await redis.hmget(
        bucket_key(who, RateLimitClass.RATE_LIMIT_CLASS_BROWSE), "tokens", "updated_us"
    )
    assert float(tokens) == 0.0
    assert int(updated_us) == round(clock.now * 1_000_000)


async def test_buckets_are_per_caller_and_per_class(redis: Redis, clock: FakeClock) -> None:
    limiter, first, second = RateLimiter(redis, LIMITS, clock=clock), caller(), caller()
    for _ in range(3):
        await limiter.check(first, policy(GET_SEAT_MAP))
    with pytest.raises(ResourceExhausted):
        await limiter.check(first, policy(GET_SEAT_MAP))
    await limiter.check(second, policy(GET_SEAT_MAP))
    await limiter.check(first, policy(CREATE_TRIP))
    # Internal methods are never limited.
    for _ in range(10):
        await limiter.check(first, policy("/farebox.seat.v1.SeatInventoryService/HoldSeats"))


async def test_a_bucket_key_is_hash_tagged_and_expires(redis: Redis, clock: FakeClock) -> None:
    limiter, who = RateLimiter(redis, LIMITS, clock=clock), caller()
    await limiter.check(who, policy(GET_SEAT_MAP))
    keys = [key.decode() async for key in redis.scan_iter(match="farebox:rl:*:browse")]
    assert keys and all(key.count("{") == 1 and key.index("}") > key.index("{") + 1 for key in keys)
    ttls = [await redis.pttl(key) for key in keys]
    assert all(0 < ttl <= 61_000 for ttl in ttls)


async def test_over_the_limit_over_grpc_is_resource_exhausted_with_retry_info(
    redis: Redis, clock: FakeClock, verifier: JwtVerifier, signing_key: SigningKey
) -> None:
    token = signing_key.sign(claims(sub=f"t-{uuid.uuid4().hex}"))
    async with probe_server(verifier=verifier, limiter=RateLimiter(redis, LIMITS, clock=clock)) as host:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            for _ in range(3):
                await call(channel, "GetSeatMap", token)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(channel, "GetSeatMap", token)
            # Another caller, and anonymous callers (by address), have their own buckets.
            await call(channel, "GetSeatMap", signing_key.sign(claims(sub=f"t-{uuid.uuid4().hex}")))
            await call(channel, "GetSeatMap")
            clock.advance(timedelta(minutes=1))
            await call(channel, "GetSeatMap", token)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(caught.value)
    assert (
        info is not None and info.reason == "RATE_LIMITED" and info.metadata["rate_limit_class"] == "browse"
    )
    retry = retry_info(caught.value)
    assert retry is not None and retry.retry_delay.ToTimedelta() == timedelta(seconds=20)


def sample(name: str, rate_limit_class: str) -> float:
    return REGISTRY.get_sample_value(name, {"rate_limit_class": rate_limit_class}) or 0.0


async def test_redis_down_fails_open_for_reads_and_closed_for_writes(
    dead_redis_port: int, verifier: JwtVerifier, signing_key: SigningKey
) -> None:
    redis = Redis(host="127.0.0.1", port=dead_redis_port, socket_connect_timeout=1)
    operator = signing_key.sign(claims(sub="op-1", roles=["operator"], tenant="acme"))
    opened = sample("farebox_rate_limit_fail_open_total", "browse")
    closed = sample("farebox_rate_limit_fail_closed_total", "admin")
    try:
        limiter = RateLimiter(redis, replace(LIMITS, redis_timeout=timedelta(milliseconds=250)))
        async with probe_server(verifier=verifier, limiter=limiter) as host:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                for _ in range(5):  # more than the browse limit: nothing is counted
                    await call(channel, "GetSeatMap", operator)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(channel, "CreateTrip", operator)
    finally:
        await redis.aclose()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    info = error_info(caught.value)
    assert info is not None and info.reason == "RATE_LIMITER_UNAVAILABLE"
    assert sample("farebox_rate_limit_fail_open_total", "browse") == opened + 5
    assert sample("farebox_rate_limit_fail_closed_total", "admin") == closed + 1


async def test_services_are_not_limited_and_only_a_trusted_proxy_forwards_the_client_address(
    redis: Redis, clock: FakeClock, pki: Pki
) -> None:
    limiter = RateLimiter(redis, LIMITS, clock=clock)
    credentials = server_credentials(pki.server_settings, require_client_auth=True)
    forwarded_by = (("x-forwarded-for", "198.51.100.1, 203.0.113.9"),)
    async with probe_server(limiter=limiter, credentials=credentials) as host:
        async with secure_channel(host.port, pki.client("booking")) as service:
            for _ in range(10):
                await call(service, "GetSeatMap")
        async with secure_channel(host.port, pki.client("gateway")) as gateway:
            for _ in range(3):
                await call(gateway, "GetSeatMap", metadata=forwarded_by)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(gateway, "GetSeatMap", metadata=forwarded_by)
            await call(gateway, "GetSeatMap", metadata=(("x-forwarded-for", "203.0.113.10"),))
        # Anyone else's x-forwarded-for is ignored: the bucket is the peer address's.
        async with secure_channel(host.port, pki.client("cli")) as other:
            for index in range(3):
                await call(other, "GetSeatMap", metadata=(("x-forwarded-for", f"192.0.2.{index}"),))
            with pytest.raises(grpc.aio.AioRpcError) as spoofed:
                await call(other, "GetSeatMap", metadata=(("x-forwarded-for", "192.0.2.200"),))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert spoofed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
