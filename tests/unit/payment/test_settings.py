"""Payment settings: defaults, overrides, and fail-fast on bad values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.settings import Env, SettingsError
from payment_service.settings import PaymentSettings

BASE = {"DATABASE_URL": "postgresql://farebox@127.0.0.1/farebox", "FAREBOX_INSECURE_DEV": "true"}


def test_defaults() -> None:
    settings = PaymentSettings.from_env(Env(BASE))
    assert (settings.server.port, settings.provider, settings.breaker_fail_max) == (50052, "sandbox", 5)
    assert (settings.platform.internal_port, settings.server.health_port) == (50152, 0)
    assert settings.platform.security.tls.insecure_dev
    assert settings.sandbox.faults.error_rate == 0.0
    assert settings.idempotency.retention == timedelta(hours=24)


def test_overrides() -> None:
    settings = PaymentSettings.from_env(
        Env(
            {
                **BASE,
                "PAYMENT_DATABASE_URL": "postgresql://elsewhere/payments",
                "PAYMENT_SANDBOX_LATENCY": "20ms",
                "PAYMENT_SANDBOX_ERROR_RATE": "0.25",
                "PAYMENT_SANDBOX_SLOW_DELAY": "2s",
                "PAYMENT_BREAKER_RESET_TIMEOUT": "1m",
                "PAYMENT_IDEMPOTENCY_WAIT": "250ms",
            }
        )
    )
    assert settings.database_url == "postgresql://elsewhere/payments"
    assert settings.sandbox.faults.latency == timedelta(milliseconds=20)
    assert settings.sandbox.faults.error_rate == 0.25
    assert settings.sandbox.slow_delay == timedelta(seconds=2)
    assert settings.breaker_reset_timeout == timedelta(minutes=1)
    assert settings.idempotency.wait == timedelta(milliseconds=250)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAYMENT_PROVIDER", "stripe", "PAYMENT_PROVIDER"),
        ("PAYMENT_SANDBOX_ERROR_RATE", "1.5", "PAYMENT_SANDBOX_ERROR_RATE"),
        ("PAYMENT_IDEMPOTENCY_RETENTION", "1h", "at least 24h"),
        ("PAYMENT_BREAKER_FAIL_MAX", "0", "PAYMENT_BREAKER_FAIL_MAX"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        PaymentSettings.from_env(Env({**BASE, name: value}))


def test_a_database_url_is_required() -> None:
    with pytest.raises(SettingsError, match="PAYMENT_DATABASE_URL"):
        PaymentSettings.from_env(Env({"FAREBOX_INSECURE_DEV": "true"}))


def test_certificates_are_required_unless_plaintext_is_chosen() -> None:
    with pytest.raises(SettingsError, match="FAREBOX_TLS_CA"):
        PaymentSettings.from_env(Env({"DATABASE_URL": BASE["DATABASE_URL"]}))


def test_platform_ports_and_paths_are_read_with_the_payment_prefix() -> None:
    settings = PaymentSettings.from_env(
        Env(
            {
                "DATABASE_URL": BASE["DATABASE_URL"],
                "FAREBOX_TLS_CA": "/tls/ca.pem",
                "FAREBOX_TLS_CERT": "/tls/payment.pem",
                "FAREBOX_TLS_KEY": "/tls/payment-key.pem",
                "PAYMENT_INTERNAL_PORT": "7001",
                "PAYMENT_HEALTH_PORT": "7002",
                "PAYMENT_METRICS_DIR": "/run/metrics",
            }
        )
    )
    assert (settings.platform.internal_port, settings.server.health_port) == (7001, 7002)
    assert str(settings.platform.security.tls.cert) == "/tls/payment.pem"
    assert str(settings.platform.metrics.multiproc_dir) == "/run/metrics"
