"""Per-caller token buckets in Redis, one per rate-limit class of the contract's method option.

Each class has its own limit (browse 60/min, booking 30/min, admin 30/min by default; internal
calls are never limited). A bucket holds `capacity` tokens and refills evenly over its period, so a
caller may burst up to the capacity and then continues at the sustained rate. Over the limit the
call is refused with ResourceExhausted and the delay until the next token.

When Redis cannot be reached in time, reads (IDEMPOTENCY_NO_SIDE_EFFECTS) are let through and
everything else is refused with Unavailable; both are counted:
`farebox_rate_limit_fail_open_total` and `farebox_rate_limit_fail_closed_total`. After a failure
Redis is left alone for a short cooldown, so an outage costs one timeout, not one per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.errors import ResourceExhausted, Unavailable
from common.policy import Idempotency, MethodPolicy, RateLimitClass
from common.redis_scripts import LuaScript
from common.security_settings import RateLimit, RateLimitSettings

log = structlog.get_logger()


@dataclass(frozen=True)
class RateLimitMetrics:
    """The limiter's series, each labelled by rate-limit class."""

    fail_open: Counter
    fail_closed: Counter
    rejected: Counter


@cache
def rate_limit_metrics() -> RateLimitMetrics:
    """The limiter's series, registered on the default registry on first use."""
    return RateLimitMetrics(
        fail_open=Counter(
            "farebox_rate_limit_fail_open_total",
            "Reads let through unlimited because the rate limiter's Redis was unreachable.",
            ["rate_limit_class"],
        ),
        fail_closed=Counter(
            "farebox_rate_limit_fail_closed_total",
            "Mutating calls refused because the rate limiter's Redis was unreachable.",
            ["rate_limit_class"],
        ),
        rejected=Counter(
            "farebox_rate_limit_rejected_total",
            "Calls refused for being over their rate limit.",
            ["rate_limit_class"],
        ),
    )


_UNAVAILABLE_RETRY = timedelta(seconds=1)


@dataclass(frozen=True)
class Decision:
    """The outcome of taking a token: allowed or not, and the wait for the next one."""

    allowed: bool
    retry_after: timedelta


class TokenBucket:
    """The token-bucket Lua script, one atomic take per call."""

    def __init__(self, redis: Redis) -> None:
        self._script = LuaScript(redis, "common", "token_bucket")

    async def take(self, key: str, limit: RateLimit, now: float) -> Decision:
        """Takes one token from bucket `key` at time `now` (seconds since the epoch)."""
        period_us = round(limit.period.total_seconds() * 1_000_000)
        allowed, wait_us = await self._script(
            keys=[key], args=[limit.capacity, period_us, round(now * 1_000_000)]
        )
        return Decision(allowed=bool(allowed), retry_after=timedelta(microseconds=int(wait_us)))


def bucket_key(caller: str, rate_limit_class: int) -> str:
    """The bucket of one caller in one class; the hash tag keeps a caller's buckets on one slot."""
    digest = hashlib.sha256(caller.encode()).hexdigest()[:32]
    return f"farebox:rl:{{{digest}}}:{class_name(rate_limit_class)}"


def class_name(rate_limit_class: int) -> str:
    """`browse` for RATE_LIMIT_CLASS_BROWSE, and so on."""
    return str(RateLimitClass.Name(rate_limit_class)).removeprefix("RATE_LIMIT_CLASS_").lower()


class RateLimiter:
    """Applies the configured limit of a method's rate-limit class to one caller."""

    def __init__(
        self, redis: Redis, settings: RateLimitSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._bucket = TokenBucket(redis)
        self._timeout = settings.redis_timeout.total_seconds()
        self._clock = clock
        self._limits: dict[int, RateLimit | None] = {
            RateLimitClass.RATE_LIMIT_CLASS_BROWSE: settings.browse,
            RateLimitClass.RATE_LIMIT_CLASS_BOOKING: settings.booking,
            RateLimitClass.RATE_LIMIT_CLASS_ADMIN: settings.admin,
        }
        self._cooldown = settings.redis_cooldown.total_seconds()
        self._skip_until = 0.0
        self._degraded = False

    def limit_for(self, rate_limit_class: int) -> RateLimit | None:
        """The limit of a class; None (unlimited) for internal calls and unlimited classes."""
        return self._limits.get(rate_limit_class)

    async def check(self, caller: str, policy: MethodPolicy) -> None:
        """Takes a token for `caller`; raises ResourceExhausted over the limit, Unavailable if closed."""
        limit = self.limit_for(policy.rate_limit_class)
        if limit is None:
            return
        name = class_name(policy.rate_limit_class)
        if time.monotonic() < self._skip_until:
            self._decide_without_redis(policy, name)
            return
        try:
            async with asyncio.timeout(self._timeout):
                decision = await self._bucket.take(
                    bucket_key(caller, policy.rate_limit_class), limit, self._clock()
                )
        except (RedisError, TimeoutError, OSError) as error:
            self._skip_until = time.monotonic() + self._cooldown
            if not self._degraded:
                self._degraded = True
                log.warning("rate_limiter_unreachable", error=str(error) or type(error).__name__)
            self._decide_without_redis(policy, name)
            return
        if self._degraded:
            self._degraded = False
            log.info("rate_limiter_recovered")
        if not decision.allowed:
            rate_limit_metrics().rejected.labels(rate_limit_class=name).inc()
            raise ResourceExhausted(
                f"rate limit of {limit.capacity} calls per {limit.period.total_seconds():g}s exceeded",
                metadata={"rate_limit_class": name},
                retry_after=decision.retry_after,
            )

    def _decide_without_redis(self, policy: MethodPolicy, name: str) -> None:
        """Reads pass (fail open); everything else is refused (fail closed)."""
        if policy.idempotency == Idempotency.IDEMPOTENCY_NO_SIDE_EFFECTS:
            rate_limit_metrics().fail_open.labels(rate_limit_class=name).inc()
            return
        rate_limit_metrics().fail_closed.labels(rate_limit_class=name).inc()
        raise Unavailable(
            "the rate limiter is unavailable; retry shortly",
            reason="RATE_LIMITER_UNAVAILABLE",
            retry_after=_UNAVAILABLE_RETRY,
        )
