"""The processes a scenario measures, started by the benchmark itself and stopped after it.

One private PostgreSQL server per stack (a fresh database per scenario, with every service's
migrations), a private redis-server per scenario, the services as real processes (`python -m
<service>` on free ports) and the bare echo server. Service logs go to files in the stack's work
directory, so the terminal shows the benchmark's own progress only.

The services run as the platform expects them to: the stack writes the dev CA, every service's
certificate and the dev token key under its work directory (`farebox_cli.certs`, `farebox_cli.tokens`);
each service serves its public port over TLS (callers bring a bearer token), its internal port over
mTLS (callers present a service certificate) and a plaintext health port. `ClientAccess` is how a
client reaches one of those ports: ghz's `cacert`/`cert`/`key` and the call metadata.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import grpc
import psycopg
import redis
import structlog

from benchmarks import procstat
from benchmarks.options import RunOptions
from farebox_cli.certs import certificate_paths, write_dev_certificates
from farebox_cli.embedded import start_postgres, start_redis
from farebox_cli.services import spec_named
from farebox_cli.stack import apply_migrations, grpc_serving
from farebox_cli.tokens import ensure_dev_key, jwt_environment, mint_token

log = structlog.get_logger()

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
TOKEN_TTL = timedelta(hours=3)
# The identity the scenarios' internal calls present: they stand in for the booking service.
CALLER_IDENTITY = "booking"
# Rate limits off: a benchmark measures capacity, not the per-caller limits.
SERVICE_ENV = {
    "FAREBOX_RATE_LIMIT_BROWSE_PER_MINUTE": "0",
    "FAREBOX_RATE_LIMIT_BOOKING_PER_MINUTE": "0",
    "FAREBOX_RATE_LIMIT_ADMIN_PER_MINUTE": "0",
}


class StackError(RuntimeError):
    """A process of the stack did not start."""


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ClientAccess:
    """How a client reaches one port: TLS files (ghz's cacert, cert, key) and call metadata.

    No CA means plaintext (the echo server's plain port, which h2load drives).
    """

    cacert: str = ""
    cert: str = ""
    key: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    def apply(self, options: RunOptions, address: str) -> RunOptions:
        """Driver options aimed at `address` through this access; the options' own metadata wins."""
        metadata = {**self.metadata, **(options.metadata or {})} or None
        if not self.cacert:
            return options.with_overrides(host=address, insecure=True, metadata=metadata)
        return options.with_overrides(
            host=address, insecure=False, cacert=self.cacert, cert=self.cert, key=self.key, metadata=metadata
        )

    def call_metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata for a stub call."""
        return tuple(self.metadata.items())

    def channel(self, address: str) -> grpc.Channel:
        """A blocking channel to `address` (for a scenario's setup calls)."""
        if not self.cacert:
            return grpc.insecure_channel(address)
        files: list[bytes | None] = [
            Path(path).read_bytes() if path else None for path in (self.cacert, self.key, self.cert)
        ]
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(*files))


@dataclass
class ServiceProcess:
    """A running server process: where it listens and how to find its processes.

    `address` is the public port, `internal_address` the mTLS port for other services (the echo
    server's mTLS port), `health_address` the plaintext health port.
    """

    name: str
    address: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    internal_address: str = ""
    health_address: str = ""

    def pids(self) -> set[int]:
        """The process and its children (the workers of the N-worker mode)."""
        return procstat.process_tree(self.popen.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace period."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclass(frozen=True)
class RedisServer:
    """A private redis-server."""

    url: str
    pid: int

    def pids(self) -> set[int]:
        """Its process."""
        return {self.pid}


@dataclass(frozen=True)
class Database:
    """A database of the stack's PostgreSQL server."""

    url: str
    name: str
    stack: Stack

    def pids(self) -> set[int]:
        """The server processes that work for this database (see Stack.postgres_pids)."""
        return self.stack.postgres_pids(self.name)


_ERROR_LINE = re.compile(r"^\w+(\.\w+)*(Error|Exception): ")


def _tail(path: Path, lines: int = 15) -> str:
    """The last error line of a log (a traceback's cause, so it leads a one-line summary), then its
    last lines."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    causes = [line for line in text if _ERROR_LINE.match(line)]
    return "\n".join(causes[-1:] + text[-lines:])


def wait_serving(service: ServiceProcess, timeout: float = START_TIMEOUT_S) -> None:
    """Waits until the server answers its overall health check with SERVING."""
    deadline = time.monotonic() + timeout
    serving = grpc_serving(service.health_address or service.address)
    while not serving():
        if service.popen.poll() is not None:
            raise StackError(
                f"{service.name} exited with {service.popen.returncode}: {_tail(service.log_path)}"
            )
        if time.monotonic() > deadline:
            raise StackError(f"{service.name} not serving after {timeout:.0f}s: {_tail(service.log_path)}")
        time.sleep(0.2)


class Stack:
    """Private stores and service processes for one benchmark run; `close` stops all of them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o755)
        write_dev_certificates(workdir)
        ensure_dev_key(workdir)
        self._exit = ExitStack()
        self._postgres_url: str | None = None
        self._postmaster: int | None = None
        self._monitor: psycopg.Connection[tuple[int]] | None = None
        self._token: str | None = None

    def close(self) -> None:
        """Stops everything this stack started, newest first."""
        self._exit.close()

    def public_access(self) -> ClientAccess:
        """A public port: TLS with the dev CA and a bearer token (admin and traveller) from the dev key."""
        if self._token is None:
            self._token = mint_token(
                ["admin", "traveller"], "bench", "bench", data_dir=self.workdir, ttl=TOKEN_TTL
            )
        ca = certificate_paths(self.workdir, CALLER_IDENTITY).ca
        return ClientAccess(cacert=str(ca), metadata={"authorization": f"Bearer {self._token}"})

    def internal_access(self, identity: str = CALLER_IDENTITY) -> ClientAccess:
        """An internal port: mTLS presenting `identity`'s certificate (a service identity), no token."""
        paths = certificate_paths(self.workdir, identity)
        return ClientAccess(cacert=str(paths.ca), cert=str(paths.cert), key=str(paths.key))

    def postgres_url(self) -> str:
        """The private PostgreSQL server's URL, started on first use."""
        if self._postgres_url is None:
            server = self._exit.enter_context(start_postgres(self.workdir / "postgres"))
            self._postgres_url = server.url
            pid_file = self.workdir / "postgres" / "pgdata" / "postmaster.pid"
            self._postmaster = int(pid_file.read_text().split()[0])
        return self._postgres_url

    def postgres_pids(self, database: str) -> set[int]:
        """The postmaster, its background processes, and the backends connected to `database`."""
        if self._monitor is None:
            self._monitor = self._exit.enter_context(psycopg.connect(self.postgres_url(), autocommit=True))
        rows = self._monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND (datname = %s OR backend_type <> 'client backend')",
            (database,),
        ).fetchall()
        return {pid for pid in (self._postmaster, *(row[0] for row in rows)) if pid}

    def database(self, name: str) -> Database:
        """A new database with every service's migrations applied."""
        server_url = self.postgres_url()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        apply_migrations(url)
        return Database(url, name, self)

    def redis(self, name: str) -> RedisServer:
        """A new private redis-server."""
        server = self._exit.enter_context(start_redis(self.workdir / f"redis-{name}"))
        client = redis.Redis.from_url(server.url)
        try:
            pid = int(client.info("server")["process_id"])
        finally:
            client.close()
        return RedisServer(url=server.url, pid=pid)

    def service_environment(self, service: str) -> dict[str, str]:
        """What `service` (seat, payment, booking) runs with: its certificate, the dev token key, free
        public, internal and health ports on 127.0.0.1, any metrics port, and no rate limits."""
        prefix = spec_named(service).env_prefix
        return {
            **SERVICE_ENV,
            **certificate_paths(self.workdir, service).environment(),
            **jwt_environment(self.workdir),
            f"{prefix}_HOST": "127.0.0.1",
            f"{prefix}_PORT": str(free_port()),
            f"{prefix}_INTERNAL_PORT": str(free_port()),
            f"{prefix}_HEALTH_PORT": str(free_port()),
            f"{prefix}_METRICS_PORT": "0",
        }

    def start_service(self, service: str, label: str, env: Mapping[str, str]) -> ServiceProcess:
        """`python -m <service's module>` with its platform environment and `env`, once it serves."""
        spec = spec_named(service)
        child = {**self.service_environment(service), **env}
        prefix = spec.env_prefix
        log_path = self.workdir / f"{label}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env={**os.environ, **child},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = ServiceProcess(
            label,
            f"127.0.0.1:{child[f'{prefix}_PORT']}",
            popen,
            log_path,
            internal_address=f"127.0.0.1:{child[f'{prefix}_INTERNAL_PORT']}",
            health_address=f"127.0.0.1:{child[f'{prefix}_HEALTH_PORT']}",
        )
        self._exit.callback(started.stop)
        wait_serving(started)
        log.info("bench_service_started", service=label, address=started.address, pid=popen.pid)
        return started

    def start_echo(self) -> ServiceProcess:
        """The bare echo server: a plaintext port (`address`) and an mTLS port (`internal_address`)
        with the seat service's certificate, on ports of its choosing."""
        log_path = self.workdir / "echo.log"
        paths = certificate_paths(self.workdir, "seat")
        command = [sys.executable, "-m", "benchmarks.echo_server", "--port", "0"]
        command += ["--ca", str(paths.ca), "--cert", str(paths.cert), "--key", str(paths.key)]
        with log_path.open("ab") as err:
            popen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        assert popen.stdout is not None
        ready, _, _ = select.select([popen.stdout], [], [], START_TIMEOUT_S)
        ports = _words(popen.stdout.readline().decode() if ready else "")
        if "port" not in ports or "tls_port" not in ports:
            popen.kill()
            raise StackError(f"echo server did not start: {_tail(log_path)}")
        service = ServiceProcess(
            "echo",
            f"127.0.0.1:{ports['port']}",
            popen,
            log_path,
            internal_address=f"127.0.0.1:{ports['tls_port']}",
        )
        self._exit.callback(service.stop)
        return service


def _words(line: str) -> dict[str, str]:
    """The `key=value` words of a line."""
    pairs = (word.partition("=") for word in line.split())
    return {key: value for key, equals, value in pairs if equals}


@contextmanager
def stack(workdir: Path) -> Iterator[Stack]:
    """A Stack closed on exit."""
    opened = Stack(workdir)
    try:
        yield opened
    finally:
        opened.close()
