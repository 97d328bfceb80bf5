"""Seat settings: defaults, the platform's settings under the SEAT prefix, and fail-fast on bad values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.settings import Env, SettingsError
from seat_service.settings import SeatSettings

BASE = {
    "DATABASE_URL": "postgresql://farebox@127.0.0.1/farebox",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "FAREBOX_INSECURE_DEV": "true",
}


def test_defaults() -> None:
    settings = SeatSettings.from_env(Env(BASE))
    assert (settings.server.port, settings.platform.internal_port, settings.server.health_port) == (
        50051,
        50151,
        0,
    )
    assert settings.audit_interval == timedelta(minutes=1)
    assert settings.idempotency.retention == timedelta(hours=24)


def test_platform_and_idempotency_settings_use_the_seat_prefix() -> None:
    settings = SeatSettings.from_env(
        Env(
            {
                **{key: value for key, value in BASE.items() if key != "FAREBOX_INSECURE_DEV"},
                "FAREBOX_TLS_CA": "/tls/ca.pem",
                "FAREBOX_TLS_CERT": "/tls/seat.pem",
                "FAREBOX_TLS_KEY": "/tls/seat-key.pem",
                "SEAT_INTERNAL_PORT": "7001",
                "SEAT_HEALTH_PORT": "7002",
                "SEAT_IDEMPOTENCY_WAIT": "250ms",
                "SEAT_AUDIT_INTERVAL": "10s",
            }
        )
    )
    assert (settings.platform.internal_port, settings.server.health_port) == (7001, 7002)
    assert str(settings.platform.security.tls.key) == "/tls/seat-key.pem"
    assert settings.idempotency.wait == timedelta(milliseconds=250)
    assert settings.audit_interval == timedelta(seconds=10)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"FAREBOX_INSECURE_DEV": ""}, "FAREBOX_TLS_CA"),
        ({"SEAT_AUDIT_INTERVAL": "0s"}, "SEAT_AUDIT_INTERVAL"),
        ({"SEAT_INTERNAL_PORT": "70000"}, "SEAT_INTERNAL_PORT"),
        ({"SEAT_IDEMPOTENCY_RETENTION": "1h"}, "at least 24h"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        SeatSettings.from_env(Env({**BASE, **overrides}))
