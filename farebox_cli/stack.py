"""The local stack behind `make run`: stores, migrations, service processes, demo data."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import psycopg
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.migrations import migrate_service
from farebox_cli.certs import certificate_paths, write_dev_certificates, write_file
from farebox_cli.embedded import start_postgres, start_redis
from farebox_cli.services import GATEWAY, SERVICES, ServiceSpec, spec_named
from farebox_cli.tokens import ensure_dev_key, jwt_environment
from seat_service.demo import ensure_demo_trip

log = structlog.get_logger()


@contextmanager
def stores(data_dir: Path) -> Iterator[dict[str, str]]:
    """DATABASE_URL and REDIS_URL: the configured ones, or private servers started in `data_dir`."""
    with ExitStack() as stack:
        urls = {}
        for key, start, folder in (
            ("DATABASE_URL", start_postgres, "postgres"),
            ("REDIS_URL", start_redis, "redis"),
        ):
            configured = os.environ.get(key)
            if configured:
                urls[key] = configured
            else:
                server = stack.enter_context(start(data_dir / folder))
                urls[key] = server.url
                log.info("embedded_store_started", store=folder, url=server.url)
        yield urls


def apply_migrations(database_url: str) -> None:
    """Applies every service's pending migrations."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            for spec in SERVICES:
                if spec.migrations:
                    await migrate_service(conn, spec.name, spec.migrations)

    asyncio.run(run())


def service_environment(spec: ServiceSpec, data_dir: Path, urls: dict[str, str]) -> dict[str, str]:
    """The settings a service runs with locally: stores, its certificate, the dev token key, its ports
    and the addresses of the services it calls."""
    env = {
        **urls,
        **certificate_paths(data_dir, spec.name).environment(),
        **jwt_environment(data_dir),
        f"{spec.env_prefix}_PORT": str(spec.port),
        f"{spec.env_prefix}_METRICS_PORT": str(spec.metrics_port),
        "BOOKING_TICKET_KEY": dev_ticket_key(data_dir),
    }
    if spec.internal_port:
        env[f"{spec.env_prefix}_INTERNAL_PORT"] = str(spec.internal_port)
        env[f"{spec.env_prefix}_HEALTH_PORT"] = str(spec.health_port)
    for variable, (name, which) in spec.targets.items():
        env[variable] = spec_named(name).address(which)
    return env


def dev_ticket_key(data_dir: Path) -> str:
    """The dev key that signs tickets (base64url of 32 random bytes), created on first use."""
    path = data_dir / "booking" / "ticket-key"
    if not path.exists():
        write_file(path, base64.urlsafe_b64encode(secrets.token_bytes(32)), private=True)
    return path.read_text().strip()


def start_service(spec: ServiceSpec, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Starts one service process."""
    return subprocess.Popen([sys.executable, "-m", spec.module], env={**os.environ, **env})


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Polls `ready` until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready in {timeout:.0f}s")
        time.sleep(0.2)


def grpc_serving(address: str) -> Callable[[], bool]:
    """Whether the plaintext health endpoint at `address` answers SERVING for the whole server."""

    def check() -> bool:
        with grpc.insecure_channel(address) as channel:
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
            except grpc.RpcError:
                return False
            return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def http_ready(url: str) -> Callable[[], bool]:
    """Whether `url` answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def run_stack(data_dir: Path) -> None:
    """Runs the whole suite until Ctrl-C, then stops all of it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    write_dev_certificates(data_dir)
    ensure_dev_key(data_dir)
    with stores(data_dir) as urls:
        apply_migrations(urls["DATABASE_URL"])
        asyncio.run(ensure_demo_trip(urls["DATABASE_URL"]))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for spec in SERVICES:
                processes.append(start_service(spec, service_environment(spec, data_dir, urls)))
                wait_until(grpc_serving(f"127.0.0.1:{spec.health_port}"), spec.name)
                log.info("service_started", service=spec.name, port=spec.port)
            processes.append(start_service(GATEWAY, service_environment(GATEWAY, data_dir, urls)))
            wait_until(http_ready(f"http://127.0.0.1:{GATEWAY.port}/readyz"), GATEWAY.name)
            log.info("service_started", service=GATEWAY.name, port=GATEWAY.port)
            print_usage(data_dir)
            signal.signal(signal.SIGTERM, _interrupt)
            signal.pause()
        except KeyboardInterrupt:
            log.info("stack_stopping")
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=30)
            log.info("stack_stopped")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def print_usage(data_dir: Path) -> None:
    """Tells how to call the running suite."""
    ports = ", ".join(f"{spec.name} on localhost:{spec.port}" for spec in SERVICES)
    ca = certificate_paths(data_dir, "cli").ca
    print(
        f"""
Farebox is running: {ports} (TLS); the REST gateway on http://127.0.0.1:{GATEWAY.port}.
Press Ctrl-C to stop. Try:
  TOKEN=$(.venv/bin/farebox token --role traveller --sub alice --data-dir {data_dir})
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{GATEWAY.port}/v1/trips
  grpcurl -cacert {ca} -H "authorization: Bearer $TOKEN" localhost:50051 \\
      farebox.seat.v1.SeatInventoryService/ListTrips""",
        flush=True,
    )
