"""Security settings fail fast on missing or contradictory values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from common.security_settings import RateLimit, SecuritySettings
from common.settings import Env, SettingsError

TLS = {
    "FAREBOX_TLS_CA": "/certs/ca.pem",
    "FAREBOX_TLS_CERT": "/certs/seat.pem",
    "FAREBOX_TLS_KEY": "/certs/seat-key.pem",
}


def test_defaults_with_tls_files() -> None:
    settings = SecuritySettings.from_env(Env(TLS))
    assert settings.tls.cert == Path("/certs/seat.pem") and not settings.tls.insecure_dev
    assert settings.tls.service_identities == {"booking", "seat", "payment"}
    assert settings.tls.trusted_proxies == {"gateway"}
    assert not settings.jwt.enabled
    assert settings.rate_limits.browse == RateLimit(60, timedelta(minutes=1))
    assert settings.rate_limits.booking == RateLimit(30, timedelta(minutes=1))
    assert settings.rate_limits.admin == RateLimit(30, timedelta(minutes=1))


def test_plaintext_only_when_asked_for() -> None:
    with pytest.raises(SettingsError, match="FAREBOX_TLS_CA"):
        SecuritySettings.from_env(Env({}))
    with pytest.raises(SettingsError, match="FAREBOX_TLS_KEY"):
        SecuritySettings.from_env(Env({**TLS, "FAREBOX_TLS_KEY": ""}))
    assert SecuritySettings.from_env(Env({"FAREBOX_INSECURE_DEV": "true"})).tls.insecure_dev
    with pytest.raises(SettingsError, match="contradicts"):
        SecuritySettings.from_env(Env({**TLS, "FAREBOX_INSECURE_DEV": "true"}))


def test_a_key_source_needs_issuer_and_audience() -> None:
    with pytest.raises(SettingsError, match="FAREBOX_JWT_ISSUER"):
        SecuritySettings.from_env(Env({**TLS, "FAREBOX_JWKS_FILE": "/jwt/jwks.json"}))
    settings = SecuritySettings.from_env(
        Env(
            {
                **TLS,
                "FAREBOX_JWKS_FILE": "/jwt/jwks.json",
                "FAREBOX_JWT_ISSUER": "i",
                "FAREBOX_JWT_AUDIENCE": "a",
            }
        )
    )
    assert settings.jwt.enabled and settings.jwt.leeway == timedelta(seconds=30)


def test_one_key_source_and_https_only() -> None:
    both = {"FAREBOX_JWKS_FILE": "/j.json", "FAREBOX_JWT_PUBLIC_KEY": "/k.pem"}
    with pytest.raises(SettingsError, match="at most one"):
        SecuritySettings.from_env(
            Env({**TLS, **both, "FAREBOX_JWT_ISSUER": "i", "FAREBOX_JWT_AUDIENCE": "a"})
        )
    with pytest.raises(SettingsError, match="https"):
        SecuritySettings.from_env(Env({**TLS, "FAREBOX_JWKS_URL": "http://idp.example/jwks"}))


def test_rate_limits_are_configurable_and_zero_means_unlimited() -> None:
    settings = SecuritySettings.from_env(
        Env(
            {**TLS, "FAREBOX_RATE_LIMIT_BROWSE_PER_MINUTE": "120", "FAREBOX_RATE_LIMIT_ADMIN_PER_MINUTE": "0"}
        )
    )
    assert settings.rate_limits.browse == RateLimit(120, timedelta(minutes=1))
    assert settings.rate_limits.admin is None
    with pytest.raises(SettingsError, match="at least 0"):
        SecuritySettings.from_env(Env({**TLS, "FAREBOX_RATE_LIMIT_BOOKING_PER_MINUTE": "-1"}))
