"""Booking settings fail fast on missing or malformed values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking_service.settings import BookingSettings, EventSettings, StreamWorkerSettings
from common.settings import Env, SettingsError
from tests.unit.booking.harness import TICKET_KEY, TICKET_SEED

BASE = {
    "DATABASE_URL": "postgresql://db",
    "REDIS_URL": "redis://cache",
    "BOOKING_TICKET_KEY": TICKET_KEY,
    "FAREBOX_INSECURE_DEV": "true",
}


def test_defaults() -> None:
    settings = BookingSettings.from_env(Env(BASE))
    assert (settings.server.port, settings.platform.internal_port) == (50053, 50153)
    assert settings.hold_ttl == timedelta(minutes=10)
    assert (settings.seat.target, settings.payment.target) == ("127.0.0.1:50151", "127.0.0.1:50152")
    assert settings.ticket_key == TICKET_SEED
    assert settings.saga.crash_at is None
    assert settings.events == EventSettings("booking-events", 1_000_000, timedelta(milliseconds=200))


def test_downstream_targets_and_ports_come_from_the_environment() -> None:
    env = {**BASE, "SEAT_TARGET": "seat:1", "PAYMENT_TARGET": "payment:2", "BOOKING_INTERNAL_PORT": "7"}
    settings = BookingSettings.from_env(Env(env))
    assert (settings.seat.target, settings.payment.target) == ("seat:1", "payment:2")
    assert settings.platform.internal_port == 7


def test_the_service_needs_certificates_or_an_explicit_plaintext_choice() -> None:
    with pytest.raises(SettingsError, match="FAREBOX_TLS_CA"):
        BookingSettings.from_env(Env({k: v for k, v in BASE.items() if k != "FAREBOX_INSECURE_DEV"}))


def test_stream_workers_need_neither_certificates_nor_the_ticket_key() -> None:
    env = {"DATABASE_URL": "postgresql://db", "REDIS_URL": "redis://cache", "BOOKING_EVENTS_STREAM": "events"}
    settings = StreamWorkerSettings.from_env(Env({**env, "BOOKING_METRICS_PORT": "9103"}))
    assert (settings.events.stream, settings.server.metrics_port) == ("events", 9103)
    assert (settings.database_url, settings.redis_url) == ("postgresql://db", "redis://cache")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOOKING_TICKET_KEY", "too-short"),
        ("BOOKING_TICKET_KEY", "not base64 at all!"),
        ("BOOKING_FAULT_CRASH_AT", "somewhere"),
        ("BOOKING_PAYMENT_TIMEOUT", "0s"),
        ("BOOKING_HOLD_TTL", "ten minutes"),
        ("BOOKING_MAX_SEATS_PER_BOOKING", "0"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        BookingSettings.from_env(Env({**BASE, name: value}))


def test_the_ticket_key_is_required() -> None:
    with pytest.raises(SettingsError, match="BOOKING_TICKET_KEY"):
        BookingSettings.from_env(Env({k: v for k, v in BASE.items() if k != "BOOKING_TICKET_KEY"}))
