"""`python -m gateway` runs: it serves its routes, spec, health and metrics, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.gateway.fakes import TRIP_ID, FakeBackends

ROOT = Path(__file__).resolve().parents[3]


async def read_event(process: asyncio.subprocess.Process, event: str) -> dict[str, Any]:
    """The next JSON log line on the process's stdout with this event name."""
    assert process.stdout is not None
    while line := await asyncio.wait_for(process.stdout.readline(), 60):
        if line.startswith(b"{"):
            entry: dict[str, Any] = json.loads(line)
            if entry["event"] == event:
                return entry
    raise AssertionError(f"the gateway exited before logging {event}")


async def test_python_m_gateway_serves_and_stops_on_sigterm(
    backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    environment = {
        **os.environ,
        **backends.targets,
        "FAREBOX_INSECURE_DEV": "true",
        "GATEWAY_PORT": "0",
        "GATEWAY_METRICS_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE
    )
    try:
        metrics_port = (await read_event(process, "metrics_server_started"))["port"]
        gateway = f"http://127.0.0.1:{(await read_event(process, 'gateway_started'))['port']}"
        async with http.get(f"{gateway}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{gateway}/readyz") as response:
            assert response.status == 200, await response.text()
        async with http.get(f"{gateway}/openapi.json") as response:
            spec = await response.json()
        assert spec["openapi"] == "3.1.0"
        assert "/v1/bookings/{booking_id}:confirm" in spec["paths"]
        async with http.get(f"{gateway}/v1/trips/{TRIP_ID}") as response:
            assert (await response.json())["trip"]["tripId"] == TRIP_ID
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            exposition = await response.text()
        assert 'gateway_http_requests_total{method="GET",route="/v1/trips/{trip_id}",status="200"} 1.0' in (
            exposition
        )
        process.send_signal(signal.SIGTERM)
        await read_event(process, "gateway_stopped")
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
