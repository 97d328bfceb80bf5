"""What every scenario shares: the stack, the settings, the echo baseline, and its result type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.options import RunOptions
from benchmarks.scenarios.measure import Measurement
from benchmarks.settings import BenchSettings
from benchmarks.stack import Stack

MAX_CONCURRENCY = 32
MAX_CONNECTIONS = 4
OPEN_LOOP_CONCURRENCY = 256


@dataclass(frozen=True)
class Check:
    """A pass/fail statement about a run."""

    name: str
    ok: bool
    detail: str


@dataclass
class ScenarioResult:
    """A scenario's figures, checks and measurements, as written to its dated result file.

    `summary` holds the figures of the README table: rps, rpsVsEcho, p50Ms, p99Ms,
    serverUsPerRequest, cpuVsEcho, verdict and a one-line `headline`.
    """

    scenario: str
    summary: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    plotted: list[Measurement] = field(default_factory=list)
    skipped: str = ""


@dataclass
class Context:
    """The run of one or more scenarios."""

    stack: Stack
    settings: BenchSettings
    short: bool
    soak_seconds: float
    workers: int
    echo: Measurement | None = None
    hold_capacity: float | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def seconds(self, full: float) -> float:
        """A phase length, a third of it (whole seconds, at least 3) in a short run."""
        return float(max(3, round(full / 3))) if self.short else full

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """A value computed once per run (a started service, a measured baseline)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


def max_throughput(call: str, data: Any, seconds: float, **extra: Any) -> RunOptions:
    """Closed loop: 32 workers over 4 connections for `seconds`, in-flight calls waited for."""
    return RunOptions(
        call=call,
        data=data,
        concurrency=MAX_CONCURRENCY,
        connections=MAX_CONNECTIONS,
        duration=seconds,
        duration_stop="wait",
        timeout=10.0,
        **extra,
    )


def fixed_rate(call: str, data: Any, rps: float, seconds: float, **extra: Any) -> RunOptions:
    """Open loop: `rps` requests per second for `seconds`, up to 256 in flight."""
    return RunOptions(
        call=call,
        data=data,
        rps=max(1, round(rps)),
        concurrency=OPEN_LOOP_CONCURRENCY,
        connections=MAX_CONNECTIONS,
        duration=seconds,
        duration_stop="wait",
        timeout=10.0,
        **extra,
    )


def ratio(value: float, baseline: float) -> float | None:
    """value / baseline, or None without a baseline."""
    return round(value / baseline, 3) if baseline else None


def headline_figures(measurement: Measurement, echo: Measurement | None) -> dict[str, Any]:
    """The README figures of one measurement, with its ratios to the echo baseline."""
    return {
        "rps": round(measurement.rps, 1),
        "rpsVsEcho": ratio(measurement.rps, echo.rps) if echo else None,
        "p50Ms": round(measurement.latency_ms(50), 2),
        "p99Ms": round(measurement.latency_ms(99), 2),
        "serverUsPerRequest": round(measurement.server_us_per_request, 1),
        "cpuVsEcho": ratio(measurement.server_us_per_request, echo.server_us_per_request) if echo else None,
        "verdict": measurement.verdict(),
    }
