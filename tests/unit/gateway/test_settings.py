"""The gateway's settings: defaults, overrides, and refusals that name the variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from common.settings import Env, SettingsError
from gateway.settings import GatewaySettings

PLAINTEXT = {"FAREBOX_INSECURE_DEV": "true"}
CERTIFICATES = {
    "FAREBOX_TLS_CA": "/etc/farebox/tls/ca.crt",
    "FAREBOX_TLS_CERT": "/etc/farebox/tls/tls.crt",
    "FAREBOX_TLS_KEY": "/etc/farebox/tls/tls.key",
}


def test_defaults() -> None:
    settings = GatewaySettings.from_env(Env(PLAINTEXT))
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.tls.insecure_dev
    assert settings.backends == {
        "seat": "localhost:50151",
        "payment": "localhost:50152",
        "booking": "localhost:50153",
    }
    assert settings.cors_origins == ()
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.default_timeout == timedelta(seconds=5)
    assert settings.descriptor_set is None
    assert settings.metrics.multiproc_dir is None


def test_overrides() -> None:
    settings = GatewaySettings.from_env(
        Env(
            {
                **CERTIFICATES,
                "GATEWAY_HOST": "0.0.0.0",
                "GATEWAY_PORT": "9000",
                "GATEWAY_METRICS_PORT": "9104",
                "GATEWAY_METRICS_DIR": "/tmp/gateway-metrics",
                "SEAT_TARGET": "dns:///seat:50051",
                "BOOKING_TARGET": "booking:50053",
                "PAYMENT_TARGET": "payment:50052",
                "GATEWAY_CORS_ORIGINS": "https://app.example.com, http://localhost:3000/",
                "GATEWAY_MAX_BODY_BYTES": "2048",
                "GATEWAY_DEFAULT_TIMEOUT": "750ms",
                "GATEWAY_DESCRIPTOR_SET": "/srv/descriptors.binpb",
            }
        )
    )
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert settings.server.metrics_port == 9104
    assert settings.metrics.multiproc_dir == Path("/tmp/gateway-metrics")
    assert not settings.tls.insecure_dev
    assert settings.tls.cert == Path("/etc/farebox/tls/tls.crt")
    assert settings.backends["seat"] == "dns:///seat:50051"
    assert settings.backends["booking"] == "booking:50053"
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert settings.max_body_bytes == 2048
    assert settings.default_timeout == timedelta(milliseconds=750)
    assert settings.descriptor_set == Path("/srv/descriptors.binpb")


def test_certificates_are_required_unless_plaintext_is_chosen() -> None:
    with pytest.raises(SettingsError, match="FAREBOX_TLS_CA, FAREBOX_TLS_CERT, FAREBOX_TLS_KEY required"):
        GatewaySettings.from_env(Env({}))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATEWAY_CORS_ORIGINS", "*"),
        ("GATEWAY_CORS_ORIGINS", "https://*.example.com"),
        ("GATEWAY_CORS_ORIGINS", "example.com"),
        ("GATEWAY_CORS_ORIGINS", "https://example.com/app"),
        ("GATEWAY_MAX_BODY_BYTES", "0"),
        ("GATEWAY_DEFAULT_TIMEOUT", "0s"),
        ("GATEWAY_DEFAULT_TIMEOUT", "soon"),
        ("GATEWAY_PORT", "70000"),
        ("FAREBOX_INSECURE_DEV", "maybe"),
    ],
)
def test_refuses_bad_values_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        GatewaySettings.from_env(Env({**PLAINTEXT, variable: value}))
