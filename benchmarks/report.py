"""ghz's report, computed the way ghz computes it, with its JSON shape and units.

Source of truth: bojand/ghz `runner/reporter.go` (Report, Options, LatencyDistribution, Bucket,
ResultDetail) and www/docs/output.md. Durations are integer nanoseconds, histogram marks are
seconds, `rps` is count / total, `average` counts every call, while fastest, slowest, the histogram
and the latency distribution count OK calls only (every call with `count-errors`). Status names and
error strings are grpc-go's (`rpc error: code = Aborted desc = ...`).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from benchmarks.calldata import rfc3339
from benchmarks.options import RunOptions

PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
HISTOGRAM_BUCKETS = 10
MAX_DETAILS = 1_000_000
GO_CODE_NAMES = (
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
)
OK = 0


def code_number(code: grpc.StatusCode) -> int:
    """The numeric value of a status code."""
    return int(code.value[0])


def error_text(code: grpc.StatusCode, details: str | None) -> str:
    """grpc-go's error string for a status, as ghz reports it."""
    return f"rpc error: code = {GO_CODE_NAMES[code_number(code)]} desc = {details or ''}"


@dataclass
class Samples:
    """Every finished call of a run: due time, latency and end (ns after the start), status, error."""

    request_numbers: array[int] = field(default_factory=lambda: array("q"))
    due_ns: array[int] = field(default_factory=lambda: array("q"))
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    end_ns: array[int] = field(default_factory=lambda: array("q"))
    codes: array[int] = field(default_factory=lambda: array("b"))
    error_ids: array[int] = field(default_factory=lambda: array("i"))
    errors: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.latency_ns)

    def extend(self, other: Samples) -> None:
        """Appends another process's samples, renumbering its errors."""
        offset = len(self.errors)
        self.request_numbers.extend(other.request_numbers)
        self.due_ns.extend(other.due_ns)
        self.latency_ns.extend(other.latency_ns)
        self.end_ns.extend(other.end_ns)
        self.codes.extend(other.codes)
        self.error_ids.extend(i + offset if i >= 0 else -1 for i in other.error_ids)
        self.errors.extend(other.errors)

    def completion_order(self) -> list[int]:
        """Sample indexes in the order the calls ended."""
        return sorted(range(len(self)), key=self.end_ns.__getitem__)

    def status_name(self, index: int) -> str:
        """The status of one call."""
        return GO_CODE_NAMES[self.codes[index]]

    def error_message(self, index: int) -> str:
        """The error string of one call ('' when OK)."""
        error_id = self.error_ids[index]
        return "" if error_id < 0 else self.errors[error_id][0]

    def reason(self, index: int) -> str:
        """The ErrorInfo reason of a failed call ('' when none)."""
        error_id = self.error_ids[index]
        return "" if error_id < 0 else self.errors[error_id][1]


def percentile(sorted_values: Sequence[int], percentage: int) -> int:
    """ghz's percentile: the value at rank ceil(p * n) - 1 of sorted values; 0 for no values."""
    if not sorted_values:
        return 0
    exact = percentage / 100.0 * len(sorted_values)
    rank = int(exact) - (1 if exact == int(exact) else 0)
    return sorted_values[max(rank, 0)]


def latency_distribution(sorted_latencies: Sequence[int]) -> list[dict[str, int]]:
    """ghz's latency distribution: p10 ... p99, an all-zero entry where the value is 0."""
    out = []
    for percentage in PERCENTILES:
        value = percentile(sorted_latencies, percentage)
        out.append(
            {"percentage": percentage, "latency": value} if value > 0 else {"percentage": 0, "latency": 0}
        )
    return out


def histogram(sorted_latencies: Sequence[int]) -> list[dict[str, float | int]]:
    """ghz's histogram: 11 marks from fastest to slowest (seconds), counts and frequencies."""
    fastest, slowest = sorted_latencies[0] / 1e9, sorted_latencies[-1] / 1e9
    width = (slowest - fastest) / HISTOGRAM_BUCKETS
    marks = [fastest + width * index for index in range(HISTOGRAM_BUCKETS)] + [slowest]
    counts = [0] * len(marks)
    bucket = 0
    for latency in sorted_latencies:
        seconds = latency / 1e9
        while seconds > marks[bucket] and bucket < len(marks) - 1:
            bucket += 1
        counts[bucket] += 1
    size = len(sorted_latencies)
    return [
        {"mark": mark, "count": count, "frequency": count / size}
        for mark, count in zip(marks, counts, strict=True)
    ]


def _omit_empty(pairs: Iterable[tuple[str, Any, bool]]) -> dict[str, Any]:
    """Go's encoding with `omitempty`: (key, value, omitempty) pairs, zero values dropped when flagged."""
    return {key: value for key, value, omit in pairs if not (omit and value in (None, "", 0, False, [], {}))}


def options_json(options: RunOptions, connections: int, cpus: int) -> dict[str, Any]:
    """ghz's Options block (reporter.go), durations in nanoseconds."""

    def ns(seconds: float) -> int:
        return round(seconds * 1e9)

    return _omit_empty(
        [
            ("call", options.call, True),
            ("host", options.host, True),
            ("protoset", options.protoset, True),
            ("enable-compression", options.enable_compression, True),
            ("cacert", options.cacert, True),
            ("cert", options.cert, True),
            ("key", options.key, True),
            ("cname", options.cname, True),
            ("insecure", options.insecure, False),
            ("authority", options.authority, True),
            ("rps", options.rps, True),
            ("load-schedule", options.load_schedule, False),
            ("load-start", options.load_start, False),
            ("load-end", options.load_end, False),
            ("load-step", options.load_step, False),
            ("load-step-duration", ns(options.load_step_duration), False),
            ("load-max-duration", ns(options.load_max_duration), False),
            ("concurrency", options.concurrency, True),
            ("concurrency-schedule", "const", False),
            ("concurrency-start", 0, False),
            ("concurrency-end", 0, False),
            ("concurrency-step", 0, False),
            ("concurrency-step-duration", 0, False),
            ("concurrency-max-duration", 0, False),
            ("total", options.total, True),
            ("connections", connections, True),
            ("duration", ns(options.run_seconds), True),
            ("timeout", ns(options.timeout), True),
            ("dial-timeout", ns(options.connect_timeout), True),
            ("keepalive", ns(options.keepalive), True),
            ("data", options.data, True),
            ("binary", False, False),
            ("metadata", dict(options.metadata) if options.metadata else None, True),
            ("CPUs", cpus, False),
            ("name", options.name, True),
            ("skipFirst", options.skip_first, True),
        ]
    )


def build_report(
    samples: Samples,
    options: RunOptions,
    *,
    total_ns: int,
    start_wall_ns: int,
    end_reason: str,
    connections: int,
    cpus: int,
    tags: dict[str, str] | None = None,
    details: bool = True,
) -> dict[str, Any]:
    """The ghz report of a run, as the dict ghz's `-O json` would print."""
    order = samples.completion_order()[options.skip_first :]
    status_counts: Counter[str] = Counter(samples.status_name(i) for i in order)
    error_counts: Counter[str] = Counter(samples.error_message(i) for i in order if samples.codes[i] != OK)
    count = len(order)
    report: dict[str, Any] = {
        "date": rfc3339(start_wall_ns + total_ns, nanos=False),
        "name": options.name,
        "endReason": end_reason,
        "options": options_json(options, connections, cpus),
        "count": count,
        "total": total_ns,
        "average": 0,
        "fastest": 0,
        "slowest": 0,
        "rps": 0.0,
        "errorDistribution": dict(error_counts),
        "statusCodeDistribution": dict(status_counts),
        "latencyDistribution": None,
        "histogram": None,
        "details": None,
        "tags": tags or None,
    }
    if count:
        report["average"] = round(sum(samples.latency_ns[i] for i in order) / count)
        report["rps"] = count / (total_ns / 1e9) if total_ns > 0 else 0.0
        counted = sorted(
            samples.latency_ns[i] for i in order if options.count_errors or samples.codes[i] == OK
        )
        if counted:
            report["fastest"], report["slowest"] = counted[0], counted[-1]
            report["histogram"] = histogram(counted)
            report["latencyDistribution"] = latency_distribution(counted)
        if details:
            report["details"] = [
                {
                    "timestamp": rfc3339(
                        start_wall_ns + samples.end_ns[i] - samples.latency_ns[i], nanos=True
                    ),
                    "latency": samples.latency_ns[i],
                    "error": samples.error_message(i),
                    "status": samples.status_name(i),
                }
                for i in order[:MAX_DETAILS]
            ]
    return {key: value for key, value in report.items() if key not in ("name", "tags") or value}


def _format_ns(value: float) -> str:
    """ghz's formatNanoUnit: ns, μs, ms or s with two decimals."""
    if value < 1_000:
        return f"{value:.2f} ns"
    if value < 1_000_000:
        return f"{value / 1e3:.2f} μs"
    if value < 1_000_000_000:
        return f"{value / 1e6:.2f} ms"
    return f"{value / 1e9:.2f} s"


def summary_text(report: dict[str, Any]) -> str:
    """The report as ghz's default `summary` output."""
    lines = ["", "Summary:"]
    if report.get("name"):
        lines.append(f"  Name:\t\t{report['name']}")
    lines += [
        f"  Count:\t{report['count']}",
        f"  Total:\t{_format_ns(report['total'])}",
        f"  Slowest:\t{_format_ns(report['slowest'])}",
        f"  Fastest:\t{_format_ns(report['fastest'])}",
        f"  Average:\t{_format_ns(report['average'])}",
        f"  Requests/sec:\t{report['rps']:.2f}",
        "",
        "Response time histogram:",
    ]
    buckets = report.get("histogram") or []
    peak = max((bucket["count"] for bucket in buckets), default=0)
    for bucket in buckets:
        bar = "∎" * (bucket["count"] * 40 // peak if peak else 0)
        lines.append(f"  {bucket['mark'] * 1000:.3f} [{bucket['count']}]\t|{bar}")
    lines += ["", "Latency distribution:"]
    for entry in report.get("latencyDistribution") or []:
        lines.append(f"  {entry['percentage']} % in {_format_ns(entry['latency'])} ")
    lines += ["", "Status code distribution:"]
    for status, number in sorted(report["statusCodeDistribution"].items(), key=lambda item: -item[1]):
        lines.append(f"  [{status}]\t{number} responses")
    if report["errorDistribution"]:
        lines += ["", "Error distribution:"]
        for error, number in sorted(report["errorDistribution"].items(), key=lambda item: -item[1]):
            lines.append(f"  [{number}]\t{error}")
    if report.get("tags"):
        lines += ["", "Tags:"]
        lines += [f"  {key}: {value}" for key, value in sorted(report["tags"].items())]
    return "\n".join(lines) + "\n"


def csv_text(report: dict[str, Any]) -> str:
    """ghz's `csv` output: one line per call."""
    rows = ["duration (ms),status,error"]
    for detail in report.get("details") or []:
        rows.append(f"{detail['latency'] / 1e6:.2f},{detail['status']},{detail['error']}")
    return "\n".join(rows) + "\n"
