"""Prometheus registries for one or N worker processes, and the /metrics endpoint on its own port.

A pod runs its workers as spawned processes sharing one gRPC port (SO_REUSEPORT), so metrics use
prometheus-client's multiprocess mode rather than a port per worker: every worker writes its
samples to memory-mapped files in one directory and the parent process serves a single /metrics
that adds them up. The pod stays one scrape target on one declared port, sums are right however
the kernel spreads calls over workers, and KEDA/HPA queries need no per-worker aggregation. The
cost: gauges declare how workers combine (`multiprocess_mode`), the directory is emptied at start,
and a dead worker is marked so its live gauges go away. One worker needs none of this: that
process serves its own registry.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from common.settings import Env

log = structlog.get_logger()

# prometheus-client reads this variable when a worker creates its first sample.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class MetricsSettings:
    """Where a multi-worker pod's workers write their samples (None: a fresh temporary directory)."""

    multiproc_dir: Path | None

    @classmethod
    def from_env(cls, env: Env, prefix: str) -> MetricsSettings:
        """Reads `<PREFIX>_METRICS_DIR`; the port is `ServerSettings.metrics_port`."""
        directory = env.optional_text(f"{prefix}_METRICS_DIR")
        return cls(multiproc_dir=None if directory is None else Path(directory))


@dataclass
class MetricsServer:
    """A running /metrics endpoint; `port` is the bound one (useful when asked for port 0)."""

    port: int
    server: WSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stops serving and releases the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        log.info("metrics_server_stopped", port=self.port)


def start_metrics_server(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> MetricsServer:
    """Serves `registry` in the Prometheus text format from a daemon thread; port 0 picks a free one."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_port)
    log.info("metrics_server_started", host=host, port=bound)
    return MetricsServer(port=bound, server=server, thread=thread)


def enable_multiprocess(directory: Path | None) -> Path:
    """Empties (or creates) the samples directory and exports it to workers spawned from now on.

    Call it in the parent before starting any worker; the parent then serves
    `multiprocess_registry(directory)`.
    """
    path = Path(tempfile.mkdtemp(prefix="farebox-metrics-")) if directory is None else directory
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    log.info("metrics_multiprocess_enabled", directory=str(path))
    return path


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """A registry whose every scrape adds up the samples all workers wrote to `directory`."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


def worker_exited(pid: int, directory: Path) -> None:
    """Drops a dead worker's live gauges (livesum, livemax, ...); its counters keep counting."""
    multiprocess.mark_process_dead(pid, path=str(directory))  # type: ignore[no-untyped-call]
