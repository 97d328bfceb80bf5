"""One way to run a grpc.aio server: health, reflection, interceptors, graceful shutdown, N workers.

Overall health ("") reflects the process itself, so Kubernetes probes do not take every pod out of
rotation when a shared dependency fails; each gRPC service's own status follows the dependencies it
needs (see `common.dependency_health`).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import structlog
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from common.metrics import (
    MetricsSettings,
    enable_multiprocess,
    multiprocess_registry,
    start_metrics_server,
    worker_exited,
)
from common.settings import ServerSettings

log = structlog.get_logger()

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

SERVER_OPTIONS: Sequence[tuple[str, int]] = (
    # A sale's opening burst queues calls rather than having gRPC cancel those beyond its default of
    # 1,000 calls waiting for the application (callers see CANCELLED with no reason); each call's
    # deadline still bounds its wait.
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 40_000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
    ("grpc.so_reuseport", 1),
)


@dataclass
class ServiceHost:
    """A grpc.aio server with its health servicer and the resources to close after it stops."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    service_names: Sequence[str]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    port: int = 0
    internal_port: int = 0
    health_server: grpc.aio.Server | None = None

    @classmethod
    def create(
        cls,
        service_names: Sequence[str],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> ServiceHost:
        """A server with health and reflection registered; add the servicers, then `start`."""
        server = grpc.aio.server(interceptors=list(interceptors), options=list(SERVER_OPTIONS))
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            [
                *service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        return cls(server=server, health=health_servicer, service_names=list(service_names))

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Registers a resource to close after the server has stopped, in reverse order."""
        self.closers.append(closer)

    async def start(
        self,
        address: str,
        credentials: grpc.ServerCredentials | None = None,
        health_address: str | None = None,
    ) -> int:
        """Binds, starts and marks every service SERVING; returns the bound port.

        With `health_address`, the same health service is also served there in plaintext, for
        probes (such as the kubelet's gRPC probe) that cannot present a client certificate.
        """
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        await self.server.start()
        if health_address is not None:
            self.health_server = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_server.add_insecure_port(health_address)
            await self.health_server.start()
        await self.health.set("", SERVING)
        for name in self.service_names:
            await self.health.set(name, SERVING)
        log.info(
            "server_started",
            port=self.port,
            internal_port=self.internal_port,
            services=list(self.service_names),
        )
        return self.port

    async def stop(self, grace: timedelta) -> None:
        """NOT_SERVING first, then lets in-flight calls finish within `grace`, then closes resources."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace.total_seconds())
        if self.health_server is not None:
            await self.health_server.stop(None)
        for closer in reversed(self.closers):
            await closer()
        log.info("server_stopped", port=self.port)


async def serve_until_signalled(host: ServiceHost, settings: ServerSettings) -> None:
    """Runs a started host until SIGTERM or SIGINT, then stops it gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server_done = asyncio.ensure_future(host.server.wait_for_termination())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait({server_done, signalled}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutdown_requested", grace_seconds=settings.shutdown_grace.total_seconds())
    await host.stop(settings.shutdown_grace)
    signalled.cancel()
    await server_done


def freeze_start_up_objects() -> None:
    """Takes what start-up left alive (modules, generated messages, pools, caches) out of the garbage
    collector's sight: it lives as long as the process, and every full collection that walked it
    paused the event loop, and every call in flight, for tens of milliseconds. Call it before the
    server starts, while no call is in flight for the collection to finalize."""
    gc.collect()
    gc.freeze()


def run_workers(
    main: Callable[[], Coroutine[Any, Any, None]], server: ServerSettings, metrics: MetricsSettings
) -> None:
    """Runs `main` on uvloop here, or in `server.workers` processes sharing one port (SO_REUSEPORT).

    Serves /metrics on `server.metrics_port` from this process: its own registry with one worker,
    the sum of every worker's samples (Prometheus multiprocess mode) with several. Spawned workers
    import `main` by name, so it must live in an importable module, never in a `__main__`.
    """
    if main.__module__.rpartition(".")[2] == "__main__":
        raise ValueError(
            f"{main.__qualname__} is defined in {main.__module__}; spawned workers cannot import it"
        )
    if server.workers <= 1:
        endpoint = start_metrics_server(server.host, server.metrics_port)
        try:
            uvloop.run(main())
        finally:
            endpoint.stop()
        return
    directory = enable_multiprocess(metrics.multiproc_dir)
    endpoint = start_metrics_server(
        server.host, server.metrics_port, registry=multiprocess_registry(directory)
    )
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_run_worker, args=(main,), daemon=False) for _ in range(server.workers)
    ]
    for child in children:
        child.start()

    def forward(_signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, lambda *_: None)
    for child in children:
        child.join()
        if child.pid is not None:
            worker_exited(child.pid, directory)
    endpoint.stop()


def _run_worker(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop.run(main())
