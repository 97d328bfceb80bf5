"""The booking service's settings, read once from the environment."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta

from common.idempotency import IdempotencySettings
from common.platform import PlatformSettings
from common.settings import Env, ServerSettings, SettingsError

DEFAULT_PORT = 50053
DEFAULT_INTERNAL_PORT = 50153
# The other services' internal (mTLS) ports, where the booking service calls them as itself.
DEFAULT_SEAT_TARGET = "127.0.0.1:50151"
DEFAULT_PAYMENT_TARGET = "127.0.0.1:50152"
# Points in the confirm saga where a fault-injection setting can kill the process (SIGKILL).
CRASH_POINTS = ("after_authorize", "after_commit")


@dataclass(frozen=True)
class DownstreamSettings:
    """How the service calls one downstream service; durations in seconds."""

    target: str
    timeout: float
    attempt_timeout: float
    breaker_fail_max: int
    breaker_reset: float


@dataclass(frozen=True)
class SagaSettings:
    """Leases and retry pacing of the durable confirm and cancel sagas."""

    lease: timedelta
    in_doubt_grace: timedelta
    retry_base: timedelta
    retry_max: timedelta
    max_capture_failures: int
    recovery_interval: timedelta
    crash_at: str | None


@dataclass(frozen=True)
class EventSettings:
    """The stream booking events are published to, and how often the relay moves them from the outbox."""

    stream: str
    max_length: int
    relay_interval: timedelta

    @classmethod
    def from_env(cls, env: Env) -> EventSettings:
        """Reads BOOKING_EVENTS_STREAM, BOOKING_EVENTS_MAX_LENGTH and BOOKING_RELAY_INTERVAL."""
        return cls(
            stream=env.text("BOOKING_EVENTS_STREAM", "booking-events"),
            max_length=env.integer("BOOKING_EVENTS_MAX_LENGTH", 1_000_000, minimum=1_000),
            relay_interval=env.duration("BOOKING_RELAY_INTERVAL", timedelta(milliseconds=200)),
        )


@dataclass(frozen=True)
class StreamWorkerSettings:
    """The outbox relay's and the notification consumer's settings: stores, stream, logs and /metrics.

    They serve no gRPC and call no service, so they need no certificates or ticket key.
    """

    server: ServerSettings
    database_url: str
    redis_url: str
    events: EventSettings

    @classmethod
    def from_env(cls, env: Env | None = None) -> StreamWorkerSettings:
        """Reads BOOKING_HOST, BOOKING_METRICS_PORT, LOG_LEVEL, DATABASE_URL, REDIS_URL and the events'."""
        env = env or Env()
        return cls(
            server=ServerSettings.from_env(env, "BOOKING", default_port=DEFAULT_PORT),
            database_url=_database_url(env),
            redis_url=_redis_url(env),
            events=EventSettings.from_env(env),
        )


@dataclass(frozen=True)
class BookingSettings:
    """Where the booking service listens, what it calls, and its business limits."""

    server: ServerSettings
    platform: PlatformSettings
    database_url: str
    pool_size: int
    redis_url: str
    idempotency: IdempotencySettings
    seat: DownstreamSettings
    payment: DownstreamSettings
    saga: SagaSettings
    hold_ttl: timedelta
    max_pending_per_user: int
    max_seats_per_booking: int
    cancellation_cutoff: timedelta
    ticket_key: bytes
    sweep_interval: timedelta
    run_relay: bool
    events: EventSettings

    @classmethod
    def from_env(cls, env: Env | None = None) -> BookingSettings:
        """Reads BOOKING_* settings, SEAT_TARGET, PAYMENT_TARGET, DATABASE_URL, REDIS_URL and the platform's
        (TLS, tokens, tracing, metrics); fails fast on a bad value."""
        env = env or Env()
        crash_at = env.optional_text("BOOKING_FAULT_CRASH_AT")
        if crash_at is not None and crash_at not in CRASH_POINTS:
            raise SettingsError(f"BOOKING_FAULT_CRASH_AT must be one of {', '.join(CRASH_POINTS)}")
        return cls(
            server=ServerSettings.from_env(env, "BOOKING", default_port=DEFAULT_PORT),
            platform=PlatformSettings.from_env(env, "BOOKING", default_internal_port=DEFAULT_INTERNAL_PORT),
            database_url=_database_url(env),
            pool_size=env.integer("BOOKING_DB_POOL_SIZE", 20, minimum=4, maximum=200),
            redis_url=_redis_url(env),
            idempotency=IdempotencySettings.from_env(env, "BOOKING"),
            seat=_downstream(env, "SEAT", DEFAULT_SEAT_TARGET),
            payment=_downstream(env, "PAYMENT", DEFAULT_PAYMENT_TARGET),
            saga=SagaSettings(
                lease=env.duration("BOOKING_SAGA_LEASE", timedelta(seconds=30)),
                in_doubt_grace=env.duration("BOOKING_SAGA_IN_DOUBT_GRACE", timedelta(seconds=30)),
                retry_base=env.duration("BOOKING_SAGA_RETRY_BASE", timedelta(seconds=1)),
                retry_max=env.duration("BOOKING_SAGA_RETRY_MAX", timedelta(seconds=60)),
                max_capture_failures=env.integer("BOOKING_SAGA_MAX_CAPTURE_FAILURES", 20, minimum=1),
                recovery_interval=env.duration("BOOKING_RECOVERY_INTERVAL", timedelta(seconds=5)),
                crash_at=crash_at,
            ),
            hold_ttl=env.duration("BOOKING_HOLD_TTL", timedelta(minutes=10)),
            max_pending_per_user=env.integer("BOOKING_MAX_PENDING_PER_USER", 5, minimum=1),
            max_seats_per_booking=env.integer("BOOKING_MAX_SEATS_PER_BOOKING", 6, minimum=1),
            cancellation_cutoff=env.duration("BOOKING_CANCELLATION_CUTOFF", timedelta(hours=2)),
            ticket_key=_ticket_key(env),
            sweep_interval=env.duration("BOOKING_SWEEP_INTERVAL", timedelta(seconds=5)),
            run_relay=env.flag("BOOKING_RUN_RELAY", True),
            events=EventSettings.from_env(env),
        )


def _database_url(env: Env) -> str:
    return env.text("BOOKING_DATABASE_URL", env.optional_text("DATABASE_URL"))


def _redis_url(env: Env) -> str:
    return env.text("BOOKING_REDIS_URL", env.optional_text("REDIS_URL"))


def _downstream(env: Env, name: str, default_target: str) -> DownstreamSettings:
    def seconds(key: str, default: timedelta) -> float:
        value = env.duration(f"BOOKING_{name}_{key}", default).total_seconds()
        if value <= 0:
            raise SettingsError(f"BOOKING_{name}_{key} must be positive")
        return value

    return DownstreamSettings(
        target=env.text(f"{name}_TARGET", default_target),
        timeout=seconds("TIMEOUT", timedelta(seconds=5)),
        attempt_timeout=seconds("ATTEMPT_TIMEOUT", timedelta(seconds=2)),
        breaker_fail_max=env.integer(f"BOOKING_{name}_BREAKER_FAIL_MAX", 5, minimum=1),
        breaker_reset=seconds("BREAKER_RESET", timedelta(seconds=10)),
    )


def _ticket_key(env: Env) -> bytes:
    """The 32-byte Ed25519 seed that signs tickets, written as base64url in BOOKING_TICKET_KEY."""
    text = env.text("BOOKING_TICKET_KEY")
    try:
        seed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SettingsError("BOOKING_TICKET_KEY must be base64url") from None
    if len(seed) != 32:
        raise SettingsError(f"BOOKING_TICKET_KEY must decode to 32 bytes, got {len(seed)}")
    return seed
