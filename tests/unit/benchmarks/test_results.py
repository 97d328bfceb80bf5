"""Result files, the README table built from them, and the saturation verdict of a run."""

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import procstat, readme, results
from benchmarks.driver import DriverRun, DriverUsage
from benchmarks.options import RunOptions
from benchmarks.report import Samples
from benchmarks.scenarios.measure import Measurement, Target, timeline


def result(scenario: str, date: str, *, ok: bool = True, skipped: str | None = None) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "date": date,
        "machine": {
            "cores": 2,
            "cpu": "Test CPU",
            "memoryGiB": 1.0,
            "kernel": "6",
            "python": "3.11",
            "grpcio": "1",
        },
        "skipped": skipped,
        "summary": {
            "rps": 1234.5,
            "rpsVsEcho": 0.5,
            "p50Ms": 1.0,
            "p99Ms": 9.5,
            "verdict": "server",
            "headline": "h",
        },
        "checks": [{"name": "fast enough", "ok": ok, "detail": "p99 9.5 ms"}],
        "notes": [],
        "png": f"{scenario}.png",
        "file": f"{scenario}.json",
    }


def test_latest_picks_the_newest_result_per_scenario(tmp_path: Path) -> None:
    for name, date in (("echo-1", "2026-01-01T00:00:00"), ("echo-2", "2026-02-01T00:00:00")):
        (tmp_path / f"{name}.json").write_text(json.dumps(result("echo", date)))
    (tmp_path / "broken.json").write_text("{")
    latest = results.latest(tmp_path)
    assert set(latest) == {"echo"} and latest["echo"]["file"] == "echo-2.json"


def test_regenerate_replaces_only_the_marked_block(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text(f"# Title\n\nintro\n\n{readme.START}\nold table\n{readme.END}\n\n## After\n")
    latest = {
        "echo": result("echo", "2026-01-01T00:00:00"),
        "soak": result("soak", "2026-01-02T00:00:00", ok=False),
        "steady-mix": result(
            "steady-mix", "2026-01-02T00:00:00", skipped="failed: StackError: x\n  trace\nboom | bad"
        ),
    }
    readme.regenerate(page, latest, ("echo", "steady-mix", "soak"), "python -m benchmarks all")
    text = page.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("\n\n## After\n")
    assert "old table" not in text and "`python -m benchmarks all` on 2 cores (Test CPU)" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| echo", "| steady-mix", "| soak"]
    assert "| 1,234 | 0.50x | 1.00 | 9.50 |" in rows[0] and "pass 1/1" in rows[0]
    assert "skipped: failed: StackError: x ... boom / bad |" in rows[1] and "FAIL 0/1" in rows[2]
    assert "- **soak**: fast enough - p99 9.5 ms" in text
    assert "**echo** ([result](results/echo.json))" in text and "![echo](results/echo.png)" in text


def test_the_table_names_the_command_of_scenarios_run_on_their_own(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    latest = {
        "echo": {**result("echo", "2026-01-01T00:00:00"), "command": "python -m benchmarks all"},
        "soak": {**result("soak", "2026-01-02T00:00:00"), "command": "python -m benchmarks soak"},
    }
    readme.regenerate(page, latest, ("echo", "soak"), "python -m benchmarks all")
    assert "Run on their own: soak by `python -m benchmarks soak`." in page.read_text()


def test_regenerate_appends_the_block_when_markers_are_missing(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text("# Title\n")
    readme.regenerate(page, {}, ("echo",), "python -m benchmarks all")
    assert (
        page.read_text()
        == f"# Title\n\n{readme.START}\nNo results yet: run `python -m benchmarks all`.\n{readme.END}\n"
    )


def measurement(
    server_cpu: float, driver_busiest: float, machine_busy: float, processes: int = 1
) -> Measurement:
    samples = Samples()
    for number in range(4):
        samples.request_numbers.append(number)
        samples.due_ns.append(number * 400_000_000)
        samples.latency_ns.append((number + 1) * 1_000_000)
        samples.end_ns.append(number * 400_000_000 + 1_000_000)
        samples.codes.append(0 if number < 3 else 10)
        samples.error_ids.append(-1)
    report = {"count": 4, "rps": 2.0, "statusCodeDistribution": {"OK": 3, "Aborted": 1}}
    usage = DriverUsage(
        processes=2,
        cpu_seconds=1.0,
        wall_seconds=2.0,
        busiest_process=driver_busiest,
        machine_busy=machine_busy,
    )
    run = DriverRun(RunOptions(), report, samples, usage, start_wall_ns=0, total_ns=2_000_000_000)
    sampled = procstat.Usage(
        wall_seconds=2.0,
        cpu_seconds={"service": server_cpu, "redis": 0.2},
        machine_busy=machine_busy,
        cores=2,
    )
    return Measurement(
        "run", run, sampled, Target("h:1", {"service": set, "redis": set}, server_processes=processes)
    )


@pytest.mark.parametrize(
    ("server_cpu", "driver_busiest", "machine_busy", "processes", "verdict"),
    [
        (1.9, 0.3, 0.99, 1, "server"),
        (1.9, 0.3, 0.99, 2, "machine"),
        (0.4, 0.95, 0.7, 1, "driver"),
        (1.9, 0.95, 1.0, 1, "both"),
        (0.4, 0.3, 0.5, 1, "none"),
    ],
)
def test_verdict_names_the_side_that_ran_out_of_cpu(
    server_cpu: float, driver_busiest: float, machine_busy: float, processes: int, verdict: str
) -> None:
    assert measurement(server_cpu, driver_busiest, machine_busy, processes).verdict() == verdict


def test_cpu_per_request_and_latency_by_status() -> None:
    measured = measurement(0.4, 0.3, 0.5)
    assert measured.server_us_per_request == pytest.approx((0.4 + 0.2) / 4 * 1e6)
    assert measured.error_ratio() == pytest.approx(0.25)
    assert measured.latency_ms(99, "OK") == pytest.approx(3.0) and measured.latency_ms(
        50, "Aborted"
    ) == pytest.approx(4.0)
    written = measured.to_json()
    assert written["cpu"]["service"] == {"seconds": 0.4, "cores": 0.2, "usPerRequest": 100000.0}
    assert written["cpu"]["driver"]["usPerRequest"] == 250000.0
    assert written["latencyByStatus"]["Aborted"]["count"] == 1


def test_timeline_buckets_by_due_time() -> None:
    points = timeline(measurement(0.4, 0.3, 0.5).run.samples, bucket_seconds=1.0)
    assert [(p["t"], p["requests"], p["errors"]) for p in points] == [(0.0, 3, 0), (1.0, 1, 1)]
    assert points[0]["p99Ms"] == pytest.approx(3.0)
