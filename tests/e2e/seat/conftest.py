"""Fixtures for seat-service processes against the session's real PostgreSQL and Redis, over real TLS:
the test reaches the internal (mTLS) port as the booking service and the public port as an admin."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psycopg
import pytest
from farebox.seat.v1.seat_inventory_service_pb2_grpc import SeatInventoryServiceStub

from common.migrations import migrate_service
from tests.support.platform import DevCredentials

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
async def seat_database(database_url: str) -> str:
    """The session database with the seat service's migrations applied."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate_service(conn, "seat", "seat_service")
    return database_url


@dataclass
class SeatProcess:
    """A `python -m seat_service` child process, a stub for its internal port (as the booking
    service) and one for its public port (as an admin)."""

    process: asyncio.subprocess.Process
    port: int
    internal_port: int
    channel: grpc.aio.Channel
    stub: SeatInventoryServiceStub
    admin_channel: grpc.aio.Channel
    admin: SeatInventoryServiceStub
    log: list[dict[str, object]] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no flushing."""
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self.close_channels()

    async def close_channels(self) -> None:
        """Closes both channels."""
        await self.channel.close()
        await self.admin_channel.close()

    async def stop(self) -> None:
        """SIGTERM, then wait for the graceful shutdown."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 60)
        await self.close_channels()
        if self.drain is not None:
            await self.drain


def parse_log_line(line: bytes) -> dict[str, object]:
    """A JSON log line; workers sharing one pipe may interleave a long line, kept as `raw` text."""
    try:
        event: dict[str, object] = json.loads(line)
    except json.JSONDecodeError:
        return {"raw": line.decode(errors="replace")}
    return event


def free_port() -> int:
    """A port nothing listens on now (workers sharing a port need it fixed before they start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _start(
    database_url: str, redis_url: str, credentials: DevCredentials, workers: int, metrics_port: int
) -> SeatProcess:
    shared = workers > 1
    env = {
        **os.environ,
        **credentials.service_env("seat"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SEAT_PORT": str(free_port() if shared else 0),
        "SEAT_INTERNAL_PORT": str(free_port() if shared else 0),
        "SEAT_WORKERS": str(workers),
        "SEAT_METRICS_PORT": str(metrics_port),
        "LOG_LEVEL": "info",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "seat_service", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    log: list[dict[str, object]] = []
    started_workers = 0
    while started_workers < workers:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, "the service exited before it started"
        event = parse_log_line(line)
        log.append(event)
        if event.get("event") == "server_started":
            started_workers += 1
            port = int(event["port"])  # type: ignore[call-overload]
            internal_port = int(event["internal_port"])  # type: ignore[call-overload]

    async def drain() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            log.append(parse_log_line(raw))

    channel = grpc.aio.secure_channel(
        f"localhost:{internal_port}", credentials.channel_credentials("booking")
    )
    admin_channel = grpc.aio.secure_channel(
        f"localhost:{port}",
        grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(credentials.ca_pem()),
            grpc.access_token_call_credentials(credentials.token("admin", "e2e-admin")),
        ),
    )
    started = SeatProcess(
        process,
        port,
        internal_port,
        channel,
        SeatInventoryServiceStub(channel),
        admin_channel,
        SeatInventoryServiceStub(admin_channel),
        log,
    )
    started.drain = asyncio.create_task(drain())
    return started


@pytest.fixture
async def start_seat_process(
    seat_database: str, redis_url: str, dev_credentials: DevCredentials
) -> AsyncIterator[Callable[..., Awaitable[SeatProcess]]]:
    """Starts seat-service processes on the session's stores; stops those still running afterwards."""
    started: list[SeatProcess] = []

    async def start(workers: int = 1, metrics_port: int = 0) -> SeatProcess:
        process = await _start(seat_database, redis_url, dev_credentials, workers, metrics_port)
        started.append(process)
        return process

    yield start
    for process in started:
        await process.stop()
        for event in process.log:
            if event.get("level") in ("error", "critical"):
                print(json.dumps(event))
