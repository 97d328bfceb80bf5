"""Two worker processes' series add up on one scrape of the parent's /metrics endpoint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import wrappers_pb2
from prometheus_client.parser import text_string_to_metric_families

from common.metrics import (
    MULTIPROC_ENV,
    enable_multiprocess,
    multiprocess_registry,
    start_metrics_server,
    worker_exited,
)
from tests.integration.observability.probe_service import SERVICE, echo_stub

ROOT = Path(__file__).resolve().parents[3]
ECHO_OK = {"grpc_type": "UNARY", "grpc_service": SERVICE, "grpc_method": "Echo", "grpc_code": "OK"}


@pytest.fixture
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The samples directory, exported for the workers; the variable is restored afterwards."""
    monkeypatch.setenv(MULTIPROC_ENV, "")
    yield enable_multiprocess(tmp_path / "metrics")


def spawn_worker(breaker_state: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.observability.metrics_worker", str(breaker_state)],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    return process, f"127.0.0.1:{port}"


def stop_worker(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (item.name, frozenset(item.labels.items())): item.value
        for family in text_string_to_metric_families(text)
        for item in family.samples
    }


async def call_echo(address: str, times: int) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        for _ in range(times):
            await echo_stub(channel)(wrappers_pb2.StringValue(value="hi"))


def handled_ok(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return samples[("grpc_server_handled_total", frozenset(ECHO_OK.items()))]


def breaker(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float | None:
    return samples.get(("farebox_circuit_breaker_state", frozenset({("downstream", "payment")})))


async def test_two_workers_add_up_on_one_scrape(metrics_dir: Path) -> None:
    first, first_address = spawn_worker(breaker_state=2)
    second, second_address = spawn_worker(breaker_state=0)
    endpoint = start_metrics_server("127.0.0.1", 0, registry=multiprocess_registry(metrics_dir))
    try:
        await call_echo(first_address, 3)
        await call_echo(second_address, 4)
        samples = await asyncio.to_thread(scrape, endpoint.port)
        assert handled_ok(samples) == 7
        assert breaker(samples) == 2  # the worst live worker's breaker

        stop_worker(first)
        worker_exited(first.pid, metrics_dir)
        samples = await asyncio.to_thread(scrape, endpoint.port)
        assert handled_ok(samples) == 7  # a dead worker's counts stay
        assert breaker(samples) == 0  # its live gauge does not
    finally:
        for process in (first, second):
            if process.poll() is None:
                stop_worker(process)
        endpoint.stop()


def test_enable_multiprocess_empties_the_directory_and_exports_it(metrics_dir: Path) -> None:
    (metrics_dir / "counter_12345.db").write_bytes(b"stale")
    assert enable_multiprocess(metrics_dir) == metrics_dir
    assert list(metrics_dir.iterdir()) == []
    assert os.environ[MULTIPROC_ENV] == str(metrics_dir)
