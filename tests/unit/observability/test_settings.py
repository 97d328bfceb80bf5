"""Tracing and metrics settings are read once, typed, and refuse malformed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.metrics import MetricsSettings
from common.settings import Env, SettingsError
from common.tracing import TracingSettings


def test_tracing_is_off_by_default_and_samples_one_percent() -> None:
    assert TracingSettings.from_env(Env({})) == TracingSettings(otlp_endpoint=None, sample_ratio=0.01)


def test_tracing_settings_are_read() -> None:
    env = Env({"TRACING_OTLP_ENDPOINT": "http://collector:4317", "TRACING_SAMPLE_RATIO": "0.25"})
    assert TracingSettings.from_env(env) == TracingSettings(
        otlp_endpoint="http://collector:4317", sample_ratio=0.25
    )


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "often"])
def test_a_sample_ratio_outside_zero_to_one_is_refused(ratio: str) -> None:
    with pytest.raises(SettingsError, match="TRACING_SAMPLE_RATIO"):
        TracingSettings.from_env(Env({"TRACING_SAMPLE_RATIO": ratio}))


def test_metrics_directory_is_per_service() -> None:
    assert MetricsSettings.from_env(Env({}), "SEAT") == MetricsSettings(multiproc_dir=None)
    env = Env({"SEAT_METRICS_DIR": "/var/run/farebox/metrics"})
    assert MetricsSettings.from_env(env, "SEAT") == MetricsSettings(
        multiproc_dir=Path("/var/run/farebox/metrics")
    )
