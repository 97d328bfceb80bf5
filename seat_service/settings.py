"""The seat service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from common.idempotency import IdempotencySettings
from common.platform import PlatformSettings
from common.settings import Env, ServerSettings, SettingsError

DEFAULT_PORT = 50051
DEFAULT_INTERNAL_PORT = 50151


@dataclass(frozen=True)
class SeatSettings:
    """Where the seat service listens, which stores it uses, and the rules of its holds."""

    server: ServerSettings
    platform: PlatformSettings
    database_url: str
    redis_url: str
    idempotency: IdempotencySettings = field(default_factory=IdempotencySettings)
    max_seats_per_holder: int = 6
    hold_ttl_default: timedelta = timedelta(minutes=10)
    hold_ttl_min: timedelta = timedelta(seconds=10)
    hold_ttl_max: timedelta = timedelta(minutes=30)
    sweep_interval: timedelta = timedelta(seconds=1)
    audit_interval: timedelta = timedelta(minutes=1)
    health_interval: timedelta = timedelta(seconds=2)
    redis_timeout: timedelta = timedelta(milliseconds=500)
    db_pool_size: int = 10
    watch_queue_size: int = 64
    index_window: timedelta = timedelta(days=1)

    @classmethod
    def from_env(cls, env: Env | None = None) -> SeatSettings:
        """Reads SEAT_* settings, DATABASE_URL, REDIS_URL and the platform's (TLS, tokens, tracing,
        metrics); fails fast on a bad value."""
        env = env or Env()
        defaults = cls(
            server=ServerSettings.from_env(env, "SEAT", default_port=DEFAULT_PORT),
            platform=PlatformSettings.from_env(env, "SEAT", default_internal_port=DEFAULT_INTERNAL_PORT),
            database_url="",
            redis_url="",
        )
        settings = cls(
            server=defaults.server,
            platform=defaults.platform,
            database_url=env.text("SEAT_DATABASE_URL", env.optional_text("DATABASE_URL")),
            redis_url=env.text("SEAT_REDIS_URL", env.optional_text("REDIS_URL")),
            idempotency=IdempotencySettings.from_env(env, "SEAT"),
            max_seats_per_holder=env.integer(
                "SEAT_MAX_SEATS_PER_HOLDER", defaults.max_seats_per_holder, minimum=1, maximum=20
            ),
            hold_ttl_default=env.duration("SEAT_HOLD_TTL", defaults.hold_ttl_default),
            hold_ttl_min=env.duration("SEAT_HOLD_TTL_MIN", defaults.hold_ttl_min),
            hold_ttl_max=env.duration("SEAT_HOLD_TTL_MAX", defaults.hold_ttl_max),
            sweep_interval=env.duration("SEAT_SWEEP_INTERVAL", defaults.sweep_interval),
            audit_interval=env.duration("SEAT_AUDIT_INTERVAL", defaults.audit_interval),
            health_interval=env.duration("SEAT_HEALTH_INTERVAL", defaults.health_interval),
            redis_timeout=env.duration("SEAT_REDIS_TIMEOUT", defaults.redis_timeout),
            db_pool_size=env.integer("SEAT_DB_POOL_SIZE", defaults.db_pool_size, minimum=2, maximum=100),
            watch_queue_size=env.integer("SEAT_WATCH_QUEUE_SIZE", defaults.watch_queue_size, minimum=1),
            index_window=env.duration("SEAT_INDEX_WINDOW", defaults.index_window),
        )
        if not settings.hold_ttl_min <= settings.hold_ttl_default <= settings.hold_ttl_max:
            raise SettingsError("SEAT_HOLD_TTL must be between SEAT_HOLD_TTL_MIN and SEAT_HOLD_TTL_MAX")
        for name, value in (
            ("SEAT_HOLD_TTL_MIN", settings.hold_ttl_min),
            ("SEAT_SWEEP_INTERVAL", settings.sweep_interval),
            ("SEAT_AUDIT_INTERVAL", settings.audit_interval),
            ("SEAT_HEALTH_INTERVAL", settings.health_interval),
            ("SEAT_REDIS_TIMEOUT", settings.redis_timeout),
        ):
            if value <= timedelta(0):
                raise SettingsError(f"{name} must be more than zero")
        return settings
