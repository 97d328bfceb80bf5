"""Settings are typed, defaulted, and fail fast naming the variable."""

from datetime import timedelta

import pytest

from common.settings import Env, ServerSettings, SettingsError


def test_values_are_parsed_with_their_types() -> None:
    env = Env({"N": "7", "F": "0.25", "B": "yes", "D": "250ms", "S": " text "})
    assert env.integer("N", 1) == 7
    assert env.number("F", 0.0) == 0.25
    assert env.flag("B", False) is True
    assert env.duration("D", timedelta()) == timedelta(milliseconds=250)
    assert env.text("S") == "text"


def test_defaults_apply_to_missing_and_blank_values() -> None:
    env = Env({"BLANK": "  "})
    assert env.integer("BLANK", 3) == 3
    assert env.duration("MISSING", timedelta(minutes=10)) == timedelta(minutes=10)
    assert env.optional_text("BLANK") is None


@pytest.mark.parametrize(
    ("environ", "read", "message"),
    [
        ({}, lambda env: env.text("DATABASE_URL"), "DATABASE_URL is required"),
        ({"PORT": "eighty"}, lambda env: env.integer("PORT", 1), "PORT must be an integer"),
        ({"PORT": "70000"}, lambda env: env.integer("PORT", 1, maximum=65535), "PORT must be at most 65535"),
        ({"ON": "maybe"}, lambda env: env.flag("ON", False), "ON must be true or false"),
        ({"TTL": "10 minutes"}, lambda env: env.duration("TTL", timedelta()), "TTL must be a duration"),
        ({"TTL": "-5s"}, lambda env: env.duration("TTL", timedelta()), "TTL must be a duration"),
        ({"R": "2.5"}, lambda env: env.number("R", 0.0, maximum=1.0), "R must be between"),
    ],
)
def test_malformed_values_fail_fast_naming_the_variable(environ, read, message) -> None:
    with pytest.raises(SettingsError, match=message):
        read(Env(environ))


def test_server_settings_read_the_service_prefix() -> None:
    settings = ServerSettings.from_env(
        Env({"SEAT_PORT": "6000", "SEAT_WORKERS": "2", "SEAT_SHUTDOWN_GRACE": "3s", "LOG_LEVEL": "DEBUG"}),
        "SEAT",
        default_port=50051,
    )
    assert (settings.port, settings.workers, settings.shutdown_grace, settings.log_level) == (
        6000,
        2,
        timedelta(seconds=3),
        "debug",
    )
    assert ServerSettings.from_env(Env({}), "SEAT", default_port=50051).port == 50051
