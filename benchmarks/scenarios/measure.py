"""One measured driver run: ghz's report plus the CPU time of every process involved, per request.

The server side is sampled from /proc (groups such as the service, redis-server and PostgreSQL);
the driver reports its own CPU. A run says which side ran out of CPU: a server process or a driver
process that kept a whole core busy, or a machine whose cores were all busy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmarks import driver, procstat
from benchmarks.options import RunOptions
from benchmarks.report import OK, Samples, percentile
from benchmarks.schedule import RatePlan
from benchmarks.stack import ClientAccess

SATURATED_CORE_SHARE = 0.9
MACHINE_SATURATED = 0.95


@dataclass(frozen=True)
class Target:
    """A server port to drive, how to reach it, and the process groups that serve it (the first
    group is the server)."""

    address: str
    groups: Mapping[str, procstat.PidSource]
    server_processes: int = 1
    access: ClientAccess = field(default_factory=ClientAccess)

    def options(self, options: RunOptions) -> RunOptions:
        """`options` aimed at this port, with its TLS files and metadata."""
        return self.access.apply(options, self.address)


def timeline(samples: Samples, bucket_seconds: float = 1.0) -> list[dict[str, float]]:
    """Per bucket of due time: requests, errors, p50 and p99 latency (ms)."""
    buckets: dict[int, list[int]] = defaultdict(list)
    errors: Counter[int] = Counter()
    width = round(bucket_seconds * 1e9)
    for index in range(len(samples)):
        bucket = samples.due_ns[index] // width
        buckets[bucket].append(samples.latency_ns[index])
        if samples.codes[index] != OK:
            errors[bucket] += 1
    out = []
    for bucket in sorted(buckets):
        values = sorted(buckets[bucket])
        out.append(
            {
                "t": bucket * bucket_seconds,
                "requests": len(values),
                "errors": errors[bucket],
                "p50Ms": percentile(values, 50) / 1e6,
                "p99Ms": percentile(values, 99) / 1e6,
            }
        )
    return out


@dataclass
class Measurement:
    """A driver run with the CPU of the processes behind it."""

    label: str
    run: driver.DriverRun
    usage: procstat.Usage
    target: Target
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Calls counted in the report."""
        return int(self.run.report["count"])

    @property
    def rps(self) -> float:
        """Calls per second over the run."""
        return float(self.run.report["rps"])

    @property
    def wall_seconds(self) -> float:
        """The run's length, from the common start to the last call's end."""
        return self.run.total_ns / 1e9

    def cpu_seconds(self, group: str) -> float:
        """CPU seconds of one server-side group during the run."""
        return self.usage.cpu_seconds.get(group, 0.0)

    @property
    def server_cpu_seconds(self) -> float:
        """CPU seconds of every server-side group together."""
        return sum(self.usage.cpu_seconds.values())

    def us_per_request(self, seconds: float) -> float:
        """CPU microseconds per call."""
        return seconds / self.count * 1e6 if self.count else 0.0

    @property
    def server_us_per_request(self) -> float:
        """Server-side CPU microseconds per call (all groups)."""
        return self.us_per_request(self.server_cpu_seconds)

    def latency_ms(self, percentage: int, status: str | None = None) -> float:
        """A latency percentile in ms, of every call or of calls with one status."""
        samples = self.run.samples
        values = sorted(
            samples.latency_ns[i]
            for i in range(len(samples))
            if status is None or samples.status_name(i) == status
        )
        return percentile(values, percentage) / 1e6

    def status_count(self, status: str) -> int:
        """Calls that ended with a status."""
        return int(self.run.report["statusCodeDistribution"].get(status, 0))

    def error_ratio(self) -> float:
        """Share of calls that did not end OK."""
        return 1.0 - self.status_count("OK") / self.count if self.count else 0.0

    def verdict(self) -> str:
        """Which side ran out of CPU: server, driver, both, machine or none."""
        first_group = next(iter(self.target.groups), "")
        per_process = self.cpu_seconds(first_group) / self.wall_seconds / self.target.server_processes
        server = per_process >= SATURATED_CORE_SHARE
        client = self.run.usage.saturated
        if server and client:
            return "both"
        if server or client:
            return "server" if server else "driver"
        return "machine" if self.run.usage.machine_busy >= MACHINE_SATURATED else "none"

    def to_json(self) -> dict[str, Any]:
        """The measurement for the result file (ghz's report without per-call details)."""
        samples = self.run.samples
        by_status: dict[str, list[int]] = defaultdict(list)
        reasons: Counter[str] = Counter()
        for index in range(len(samples)):
            by_status[samples.status_name(index)].append(samples.latency_ns[index])
            if samples.reason(index):
                reasons[samples.reason(index)] += 1
        cpu = {
            group: {
                "seconds": round(seconds, 3),
                "cores": round(seconds / self.wall_seconds, 3),
                "usPerRequest": round(self.us_per_request(seconds), 1),
            }
            for group, seconds in self.usage.cpu_seconds.items()
        }
        cpu["driver"] = {
            "seconds": round(self.run.usage.cpu_seconds, 3),
            "cores": round(self.run.usage.cores_used, 3),
            "usPerRequest": round(self.us_per_request(self.run.usage.cpu_seconds), 1),
        }
        return {
            "label": self.label,
            "report": {key: value for key, value in self.run.report.items() if key != "details"},
            "cpu": cpu,
            "serverUsPerRequest": round(self.server_us_per_request, 1),
            "saturation": {
                "verdict": self.verdict(),
                "driverBusiestProcess": round(self.run.usage.busiest_process, 3),
                "driverProcesses": self.run.usage.processes,
                "machineBusy": round(self.run.usage.machine_busy, 3),
                "serverProcesses": self.target.server_processes,
            },
            "latencyByStatus": {
                status: {
                    "count": len(values),
                    "p50Ms": percentile(sorted(values), 50) / 1e6,
                    "p99Ms": percentile(sorted(values), 99) / 1e6,
                }
                for status, values in by_status.items()
            },
            "reasons": dict(reasons),
            "memory": _memory(self.usage),
            **self.extra,
        }


def _memory(usage: procstat.Usage) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for _, _, resident in usage.timeline:
        for group, value in resident.items():
            entry = out.setdefault(group, {"startBytes": value, "endBytes": value, "maxBytes": value})
            entry["endBytes"] = value
            entry["maxBytes"] = max(entry["maxBytes"], value)
    return out


def measure(
    label: str,
    options: RunOptions,
    target: Target,
    environment: Mapping[str, str],
    rate: RatePlan | None = None,
) -> Measurement:
    """Drives `target` with `options` (and `rate`, if given) while sampling the CPU of its processes."""
    sampler = procstat.CpuSampler(target.groups)
    sampler.start()
    try:
        run = driver.run(target.options(options), environment, details=False, rate=rate)
    finally:
        usage = sampler.stop()
    return Measurement(label=label, run=run, usage=usage, target=target)
