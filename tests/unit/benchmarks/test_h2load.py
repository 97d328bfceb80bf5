"""The h2load recipe: gRPC frames, its command line, a real run against the echo server, and a clear
error when h2load is missing (Debian nghttp2-client; .ci/run installs it)."""

from pathlib import Path

import pytest

from benchmarks import h2load
from benchmarks.echo_server import METHOD_PATH
from benchmarks.scenarios import h2load_check
from benchmarks.scenarios.context import Context
from benchmarks.settings import BenchSettings
from benchmarks.stack import Stack


def test_a_grpc_frame_is_an_uncompressed_flag_a_length_and_the_message() -> None:
    assert h2load.grpc_frame(b"\n\x02hi") == b"\x00\x00\x00\x00\x04\n\x02hi"


def test_a_fixed_rate_is_shared_by_the_connections_and_no_rate_means_flat_out(tmp_path: Path) -> None:
    paced = h2load.command("h:1", "/S/M", tmp_path / "f", tmp_path / "l", 4, 200, 5, streams=8)
    assert paced[paced.index("--rps") + 1] == "50" and paced[paced.index("-m") + 1] == "8"
    assert paced[paced.index("-D") + 1] == "5000ms" and paced[-1] == "http://h:1/S/M"
    assert "--rps" not in h2load.command("h:1", "/S/M", tmp_path / "f", tmp_path / "l", 4, 0, 5)


def test_a_missing_h2load_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(h2load.H2loadError, match="nghttp2-client"):
        h2load.command("h:1", "/S/M", tmp_path / "f", tmp_path / "l", 1, 10, 1)


def test_the_agreement_scenario_says_when_h2load_is_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    ctx = Context(Stack(tmp_path / "stack"), BenchSettings.from_env({}), True, 60.0, 1)
    result = h2load_check.run(ctx)
    assert "h2load is not installed" in result.skipped and "nghttp2-client" in result.skipped
    assert not result.measurements


def test_h2load_drives_the_echo_server_and_reports_each_request(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    try:
        echo = stack.start_echo()
        run = h2load.run(echo.address, METHOD_PATH, b"\n\x02hi", 20, 1, 1.0)
    finally:
        stack.close()
    assert run.statuses and set(run.statuses) == {200}
    assert run.succeeded == len(run.latencies_ns) and all(latency > 0 for latency in run.latencies_ns)
    assert run.cpu_seconds >= 0 and run.wall_seconds > 0 and run.percentile_ms(99) > 0
