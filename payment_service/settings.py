"""The payment service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from common.idempotency import IdempotencySettings
from common.platform import PlatformSettings
from common.settings import Env, ServerSettings, SettingsError
from payment_service.providers.sandbox import Faults, SandboxSettings

PROVIDERS = ("sandbox",)
DEFAULT_PORT = 50052
DEFAULT_INTERNAL_PORT = 50152


@dataclass(frozen=True)
class PaymentSettings:
    """Where the payment service listens, its ledger, its provider and how calls to it are guarded."""

    server: ServerSettings
    platform: PlatformSettings
    database_url: str
    pool_size: int
    provider: str
    provider_timeout: timedelta
    breaker_fail_max: int
    breaker_reset_timeout: timedelta
    sandbox: SandboxSettings
    idempotency: IdempotencySettings

    @classmethod
    def from_env(cls, env: Env | None = None) -> PaymentSettings:
        """Reads PAYMENT_* settings, DATABASE_URL and the platform's (TLS, tokens, tracing, metrics);
        see payment_service/README.md."""
        env = env or Env()
        provider = env.text("PAYMENT_PROVIDER", "sandbox")
        if provider not in PROVIDERS:
            raise SettingsError(f"PAYMENT_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")
        return cls(
            server=ServerSettings.from_env(env, "PAYMENT", default_port=DEFAULT_PORT),
            platform=PlatformSettings.from_env(env, "PAYMENT", default_internal_port=DEFAULT_INTERNAL_PORT),
            database_url=env.text("PAYMENT_DATABASE_URL", env.optional_text("DATABASE_URL")),
            pool_size=env.integer("PAYMENT_DB_POOL_SIZE", 20, minimum=4, maximum=200),
            provider=provider,
            provider_timeout=env.duration("PAYMENT_PROVIDER_TIMEOUT", timedelta(seconds=5)),
            breaker_fail_max=env.integer("PAYMENT_BREAKER_FAIL_MAX", 5, minimum=1),
            breaker_reset_timeout=env.duration("PAYMENT_BREAKER_RESET_TIMEOUT", timedelta(seconds=30)),
            sandbox=SandboxSettings(
                faults=Faults(
                    latency=env.duration("PAYMENT_SANDBOX_LATENCY", timedelta(0)),
                    error_rate=env.number("PAYMENT_SANDBOX_ERROR_RATE", 0.0, minimum=0.0, maximum=1.0),
                ),
                slow_delay=env.duration("PAYMENT_SANDBOX_SLOW_DELAY", timedelta(seconds=5)),
                seed=env.integer("PAYMENT_SANDBOX_SEED", 0),
            ),
            idempotency=IdempotencySettings.from_env(env, "PAYMENT"),
        )
