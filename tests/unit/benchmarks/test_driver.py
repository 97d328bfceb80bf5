"""The driver against the bare echo server: ghz's report shape, every request once, its own CPU reported."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import cli, driver, procstat
from benchmarks.echo_server import CALL
from benchmarks.options import RunOptions

ROOT = Path(__file__).resolve().parents[3]
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
    "tags",
}


@pytest.fixture(scope="module")
def echo_address() -> Iterator[str]:
    """A bare echo server in its own process, on a port of its choosing."""
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.echo_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    assert line.startswith("port="), line
    yield f"127.0.0.1:{line.removeprefix('port=')}"
    server.terminate()
    server.wait(10)


def test_cli_writes_ghz_json(echo_address: str, tmp_path: Path) -> None:
    output = tmp_path / "report.json"
    argv = ["--call", CALL, "--insecure", "-n", "40", "-c", "4", "--connections", "2", "--procs", "2"]
    argv += ["-d", '{"payload": "n{{.RequestNumber}}"}', "-O", "json", "-o", str(output), echo_address]
    assert cli.main(argv) == 0
    report = json.loads(output.read_text())
    assert set(report) == REPORT_KEYS
    assert report["count"] == 40 and report["statusCodeDistribution"] == {"OK": 40}
    assert report["errorDistribution"] == {} and report["endReason"] == "normal"
    assert [d["percentage"] for d in report["latencyDistribution"]] == [10, 25, 50, 75, 90, 95, 99]
    assert 0 < report["fastest"] <= report["slowest"] and report["total"] > 0
    assert report["options"]["call"] == CALL and report["options"]["total"] == 40
    assert report["tags"]["driver.processes"] == "2" and report["tags"]["driver.saturated"] in (
        "true",
        "false",
    )
    assert len(report["details"]) == 40


def test_config_file_runs_through_the_cli(echo_address: str, tmp_path: Path) -> None:
    config = tmp_path / "echo.json"
    config.write_text(
        json.dumps(
            {
                "call": CALL,
                "host": echo_address,
                "insecure": True,
                "total": 12,
                "concurrency": 3,
                "data": [{"payload": "a"}, {"payload": "b"}],
                "metadata": {"x-request-id": "{{.UUID}}"},
                "format": "pretty",
                "output": str(tmp_path / "out.json"),
            }
        )
    )
    assert cli.main(["--config", str(config)]) == 0
    assert json.loads((tmp_path / "out.json").read_text())["count"] == 12


def test_open_loop_sends_every_scheduled_request_once(echo_address: str) -> None:
    options = RunOptions(
        call=CALL,
        host=echo_address,
        insecure=True,
        data={"payload": "x"},
        rps=100,
        duration=0.5,
        duration_stop="wait",
        concurrency=20,
        connections=2,
        processes=2,
    )
    run = driver.run(options, {}, details=False)
    assert sorted(run.samples.request_numbers) == list(range(50))
    assert sorted(run.samples.due_ns) == [k * 10_000_000 for k in range(50)]
    assert run.report["statusCodeDistribution"] == {"OK": 50}
    assert run.usage.processes == 2 and run.usage.cpu_seconds > 0


def test_an_unknown_method_fails_the_run(echo_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["--call", "farebox.bench.v1.EchoService.Nope", "--insecure", "-n", "1", echo_address]) == 1
    )
    assert "method Nope not found" in capsys.readouterr().err


def test_cpu_of_a_process_group_is_counted_from_the_start_of_sampling() -> None:
    script = "import sys; sys.stdin.readline(); sum(range(20_000_000)); print('done', flush=True); input()"
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    sampler = procstat.CpuSampler({"child": lambda: procstat.process_tree(child.pid), "nobody": set})
    sampler.start()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    usage = sampler.stop()
    child.stdin.close()
    child.wait(30)
    assert usage.cpu_seconds["child"] > 0.0
    assert usage.cpu_seconds["nobody"] == 0.0
    assert usage.timeline and usage.timeline[-1][2]["child"] > 0
