"""The report has ghz's JSON shape and units, and its figures are computed the way ghz computes them."""

from typing import Any

import grpc
import pytest

from benchmarks.calldata import rfc3339
from benchmarks.options import RunOptions
from benchmarks.report import (
    Samples,
    build_report,
    code_number,
    csv_text,
    error_text,
    histogram,
    latency_distribution,
    summary_text,
)

MS = 1_000_000
# Keys of ghz's Report (runner/reporter.go): always present, and present only when set.
REPORT_KEYS = {
    "date",
    "endReason",
    "options",
    "count",
    "total",
    "average",
    "fastest",
    "slowest",
    "rps",
    "errorDistribution",
    "statusCodeDistribution",
    "latencyDistribution",
    "histogram",
    "details",
}
OPTIONAL_REPORT_KEYS = {"name", "tags"}
DETAIL_KEYS = {"timestamp", "latency", "error", "status"}
ABORTED = error_text(grpc.StatusCode.ABORTED, "seat 1A is taken")


def samples(latencies_ms: list[int], failed_ms: int | None = None) -> Samples:
    """OK calls ending in order, then optionally one ABORTED call ending last."""
    out = Samples()
    for number, latency in enumerate(latencies_ms):
        out.request_numbers.append(number)
        out.due_ns.append(number * MS)
        out.latency_ns.append(latency * MS)
        out.end_ns.append(number * MS + latency * MS)
        out.codes.append(0)
        out.error_ids.append(-1)
    if failed_ms is not None:
        out.errors.append((ABORTED, "SEAT_UNAVAILABLE"))
        out.request_numbers.append(len(latencies_ms))
        out.due_ns.append(0)
        out.latency_ns.append(failed_ms * MS)
        out.end_ns.append(10_000 * MS)
        out.codes.append(code_number(grpc.StatusCode.ABORTED))
        out.error_ids.append(0)
    return out


def report(data: Samples, **options: Any) -> dict[str, Any]:
    run = RunOptions(call="farebox.bench.v1.EchoService.Echo", host="127.0.0.1:1", insecure=True, **options)
    return build_report(
        data,
        run,
        total_ns=2_000 * MS,
        start_wall_ns=1_700_000_000 * 10**9,
        end_reason="normal",
        connections=2,
        cpus=2,
    )


def test_latency_distribution_uses_ghz_ranks() -> None:
    distribution = latency_distribution([value * MS for value in range(1, 11)])
    assert [(d["percentage"], d["latency"] // MS) for d in distribution] == [
        (10, 1),
        (25, 3),
        (50, 5),
        (75, 8),
        (90, 9),
        (95, 10),
        (99, 10),
    ]


def test_histogram_has_eleven_marks_in_seconds_from_fastest_to_slowest() -> None:
    buckets = histogram([value * MS for value in range(1, 11)])
    assert len(buckets) == 11
    assert buckets[0]["mark"] == pytest.approx(0.001) and buckets[-1]["mark"] == pytest.approx(0.010)
    assert sum(b["count"] for b in buckets) == 10
    assert sum(b["frequency"] for b in buckets) == pytest.approx(1.0)
    assert buckets[0]["count"] == 1 and buckets[-1]["count"] == 1


def test_report_has_ghz_keys_and_units() -> None:
    built = report(samples(list(range(1, 11)), failed_ms=50))
    assert set(built) == REPORT_KEYS
    assert built["count"] == 11
    assert built["total"] == 2_000 * MS
    assert built["rps"] == pytest.approx(11 / 2.0)
    assert built["average"] == round((55 + 50) / 11 * MS)
    assert (built["fastest"], built["slowest"]) == (1 * MS, 10 * MS)
    assert built["statusCodeDistribution"] == {"OK": 10, "Aborted": 1}
    assert built["errorDistribution"] == {"rpc error: code = Aborted desc = seat 1A is taken": 1}
    assert all(isinstance(built[key], int) for key in ("total", "average", "fastest", "slowest"))
    assert len(built["details"]) == 11 and all(set(d) == DETAIL_KEYS for d in built["details"])
    assert built["details"][-1]["status"] == "Aborted" and built["details"][0]["error"] == ""
    assert built["date"].endswith("Z")


def test_errors_count_in_stats_only_with_count_errors() -> None:
    built = report(samples(list(range(1, 11)), failed_ms=50), count_errors=True)
    assert built["slowest"] == 50 * MS
    assert sum(b["count"] for b in built["histogram"]) == 11


def test_skip_first_drops_the_earliest_finished_calls() -> None:
    built = report(samples([9, 1, 1, 1]), skip_first=1)
    assert built["count"] == 3
    assert built["slowest"] == 9 * MS


def test_a_run_without_ok_calls_has_no_distribution() -> None:
    built = report(samples([], failed_ms=5))
    assert built["latencyDistribution"] is None and built["histogram"] is None
    assert built["fastest"] == 0 and built["count"] == 1


def test_options_follow_ghz_omitempty() -> None:
    options = report(samples([1]), concurrency=7, timeout=2.5)["options"]
    assert options["insecure"] is True and options["binary"] is False
    assert options["load-schedule"] == "const" and options["concurrency-schedule"] == "const"
    assert options["concurrency"] == 7 and options["connections"] == 2 and options["CPUs"] == 2
    assert options["timeout"] == 2_500_000_000
    assert "rps" not in options and "cacert" not in options and "metadata" not in options


def test_name_and_tags_appear_only_when_set() -> None:
    data = samples([1])
    run = RunOptions(call="a.B.C", host="h:1", name="smoke")
    built = build_report(
        data,
        run,
        total_ns=MS,
        start_wall_ns=0,
        end_reason="normal",
        connections=1,
        cpus=1,
        tags={"env": "ci"},
    )
    assert set(built) == REPORT_KEYS | OPTIONAL_REPORT_KEYS
    assert built["name"] == "smoke" and built["tags"] == {"env": "ci"}


def test_rfc3339_matches_go() -> None:
    assert rfc3339(0, nanos=False) == "1970-01-01T00:00:00Z"
    assert rfc3339(1_500_000_000, nanos=True) == "1970-01-01T00:00:01.5Z"
    assert rfc3339(1_000_000_001, nanos=True) == "1970-01-01T00:00:01.000000001Z"


def test_text_outputs_follow_ghz() -> None:
    built = report(samples(list(range(1, 11)), failed_ms=50))
    text = summary_text(built)
    for line in (
        "Summary:",
        "  Count:\t11",
        "  Requests/sec:\t5.50",
        "  [OK]\t10 responses",
        f"  [1]\t{ABORTED}",
    ):
        assert line in text
    assert "  50 % in 5.00 ms " in text
    assert csv_text(built).splitlines()[:2] == ["duration (ms),status,error", "1.00,OK,"]
