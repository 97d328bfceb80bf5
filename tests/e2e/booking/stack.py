"""The seat, payment and booking services and the outbox relay as real processes on a database of their own.

Each service runs as deployed: its own certificate from the dev CA, TLS with bearer tokens on its
public port, mTLS on its internal port, and the booking service calls the others' internal ports
as itself. Every process listens on port 0 and the harness reads the bound ports from its
`server_started` log line (its /metrics port from its `metrics_server_started` line). Processes
can be stopped, killed with SIGKILL and started again with other settings.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.platform import DevCredentials
from tests.unit.booking.harness import FAST, TICKET_KEY

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 60.0
SERVER_STARTED = "server_started"
METRICS_STARTED = "metrics_server_started"

# Rate limits have tests of their own; here one traveller polls and retries faster than a person would.
UNLIMITED_RATES = {
    "FAREBOX_RATE_LIMIT_BROWSE_PER_MINUTE": "0",
    "FAREBOX_RATE_LIMIT_BOOKING_PER_MINUTE": "0",
    "FAREBOX_RATE_LIMIT_ADMIN_PER_MINUTE": "0",
}


@dataclass
class ServiceProcess:
    """One process, its settings, its log file, and the log line that says it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_event: str = SERVER_STARTED
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    port: int = 0
    internal_port: int = 0

    @property
    def target(self) -> str:
        """The public (TLS) address."""
        return f"127.0.0.1:{self.port}"

    @property
    def internal_target(self) -> str:
        """The internal (mTLS) address."""
        return f"127.0.0.1:{self.internal_port}"

    @property
    def metrics_target(self) -> str:
        """The address of its /metrics endpoint, from its latest `metrics_server_started` log line."""
        return f"127.0.0.1:{self.events(METRICS_STARTED)[-1]['port']}"

    def start(self, **overrides: str) -> None:
        """Starts the process and waits for its ready log line (for a server: its ports)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env={**os.environ, **self.env, **overrides},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ready = self._wait_until_ready(offset)
        self.port = int(ready.get("port", 0))
        self.internal_port = int(ready.get("internal_port", 0))

    def _wait_until_ready(self, offset: int) -> dict[str, Any]:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.log_path.read_bytes()[offset:].decode(errors="replace").splitlines():
                event = _json(line)
                if event.get("event") == self.ready_event:
                    return event
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Waits for the process to end by itself; its exit status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def tail(self, lines: int = 40) -> str:
        """The end of the log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every log line with the given event name."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [event for line in text.splitlines() if (event := _json(line)).get("event") == name]


def _json(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Stack:
    """The three services and the outbox relay on one database, and the credentials to call them."""

    database_url: str
    redis_url: str
    logs: Path
    credentials: DevCredentials
    events_stream: str
    seat: ServiceProcess
    payment: ServiceProcess
    booking: ServiceProcess
    relay: ServiceProcess

    def booking_process(self, name: str, **overrides: str) -> ServiceProcess:
        """Another booking process on the same stores and downstreams, not yet started."""
        env = {**self.booking.env, **overrides}
        return ServiceProcess(name, self.booking.argv, env, self.logs / f"{name}.log")

    def consumer_process(self, name: str) -> ServiceProcess:
        """A notification consumer (`python -m booking_service consume`) on the stack's stream, not yet
        started."""
        argv = [sys.executable, "-m", "booking_service", "consume"]
        return ServiceProcess(name, argv, self.relay.env, self.logs / f"{name}.log", "consumer_started")

    def audit(self) -> tuple[int, dict[str, Any]]:
        """Runs `farebox audit` on the stack's database: its exit status and report."""
        done = subprocess.run(
            [sys.executable, "-m", "farebox_cli", "audit"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": self.database_url, "LOG_LEVEL": "warning"},
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, json.loads(done.stdout)

    def stop(self) -> None:
        for service in (self.relay, self.booking, self.payment, self.seat):
            service.stop()


def start_stack(database_url: str, redis_url: str, logs: Path, credentials: DevCredentials) -> Stack:
    """Starts seat and payment, then booking pointed at their internal ports, and the outbox relay."""
    base = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "info", **UNLIMITED_RATES}
    events = {"BOOKING_EVENTS_STREAM": f"booking-events-{uuid.uuid4().hex[:10]}"}
    seat = ServiceProcess(
        "seat",
        [sys.executable, "-m", "seat_service"],
        {**base, **credentials.service_env("seat"), "SEAT_PORT": "0", "SEAT_INTERNAL_PORT": "0",
         "SEAT_HOLD_TTL_MIN": "1s", "SEAT_SWEEP_INTERVAL": "200ms"},
        logs / "seat.log",
    )  # fmt: skip
    payment = ServiceProcess(
        "payment",
        [sys.executable, "-m", "payment_service"],
        {**base, **credentials.service_env("payment"), "PAYMENT_PORT": "0", "PAYMENT_INTERNAL_PORT": "0",
         "PAYMENT_BREAKER_FAIL_MAX": "3", "PAYMENT_BREAKER_RESET_TIMEOUT": "1s"},
        logs / "payment.log",
    )  # fmt: skip
    booking = ServiceProcess(
        "booking",
        [sys.executable, "-m", "booking_service"],
        {**base, **FAST, **events, **credentials.service_env("booking"), "BOOKING_PORT": "0",
         "BOOKING_INTERNAL_PORT": "0", "BOOKING_TICKET_KEY": TICKET_KEY, "BOOKING_DB_POOL_SIZE": "30",
         "BOOKING_RUN_RELAY": "false"},
        logs / "booking.log",
    )  # fmt: skip
    relay = ServiceProcess(
        "relay",
        [sys.executable, "-m", "booking_service", "relay"],
        {
            **base,
            **events,
            "BOOKING_RELAY_INTERVAL": FAST["BOOKING_RELAY_INTERVAL"],
            "BOOKING_METRICS_PORT": "0",
        },
        logs / "relay.log",
        ready_event="relay_started",
    )
    stack = Stack(
        database_url,
        redis_url,
        logs,
        credentials,
        events["BOOKING_EVENTS_STREAM"],
        seat,
        payment,
        booking,
        relay,
    )
    try:
        _start_together(seat, payment)
        booking.env.update(SEAT_TARGET=seat.internal_target, PAYMENT_TARGET=payment.internal_target)
        _start_together(booking, relay)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start_together(*processes: ServiceProcess) -> None:
    with ThreadPoolExecutor(len(processes)) as starting:
        list(starting.map(ServiceProcess.start, processes))
