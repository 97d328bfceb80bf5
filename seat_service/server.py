"""Wires the seat service: platform (TLS, auth, rate limits, metrics, tracing), stores, index, inventory,
watch hub, sweeper, idempotency, servicer, health."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from farebox.seat.v1 import seat_inventory_service_pb2, seat_inventory_service_pb2_grpc
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from common.db import open_pool
from common.dependency_health import DependencyMonitor
from common.domain_metrics import domain_metrics
from common.group_commit import GroupCommitter
from common.idempotency import IdempotencyStore, KeyPurger
from common.interceptors.idempotency import IdempotencyInterceptor
from common.platform import Platform, run_service
from common.server import ServiceHost
from seat_service.catalog import TripCatalog
from seat_service.domain import Clock, system_clock
from seat_service.inventory import SeatInventory
from seat_service.rebuild import IndexBuilder
from seat_service.redis_index import SeatIndex
from seat_service.servicer import SeatInventoryServicer
from seat_service.settings import SeatSettings
from seat_service.sweeper import Sweeper
from seat_service.validation import HoldLimits
from seat_service.watch import WatchHub

SERVICE_NAME = seat_inventory_service_pb2.DESCRIPTOR.services_by_name["SeatInventoryService"].full_name


@dataclass
class SeatApp:
    """The seat service's parts, connected to its stores, before any gRPC server."""

    pool: AsyncConnectionPool[Any]
    redis: Redis
    committer: GroupCommitter
    index: SeatIndex
    builder: IndexBuilder
    inventory: SeatInventory
    hub: WatchHub
    sweeper: Sweeper

    async def close(self) -> None:
        """Stops the background work, then closes the stores."""
        await self.sweeper.stop()
        await self.hub.close()
        await self.index.close()
        await self.committer.close()
        await self.redis.aclose()
        await self.pool.close()


def connect_redis(settings: SeatSettings) -> Redis:
    """A Redis client that fails fast: short timeouts, one immediate reconnect (for a restarted server)."""
    timeout = settings.redis_timeout.total_seconds()
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


async def open_app(
    settings: SeatSettings, clock: Clock = system_clock, redis_up: Callable[[], bool] = lambda: True
) -> SeatApp:
    """Connects the seat service's parts; the sweeper is not started."""
    pool = await open_pool(settings.database_url, max_size=settings.db_pool_size, name="seat")
    redis = connect_redis(settings)
    committer = GroupCommitter(
        pool, flushers=1
    )  # no write waits long on a lock: one flusher, largest batches
    index = SeatIndex(redis)
    builder = IndexBuilder(pool, index, clock)
    inventory = SeatInventory(
        pool=pool,
        committer=committer,
        index=index,
        builder=builder,
        catalog=TripCatalog(pool, clock),
        clock=clock,
        max_seats_per_holder=settings.max_seats_per_holder,
        redis_up=redis_up,
    )
    hub = WatchHub(redis, index, inventory, clock, settings.watch_queue_size)
    sweeper = Sweeper(pool, index, builder, clock, settings.sweep_interval, settings.audit_interval)
    return SeatApp(pool, redis, committer, index, builder, inventory, hub, sweeper)


def count_replay(method: str) -> None:
    """Counts an answer the idempotency interceptor replayed."""
    domain_metrics().idempotent_replays.labels(method=method).inc()


async def build_server(
    settings: SeatSettings,
    clock: Clock = system_clock,
    *,
    platform: Platform | None = None,
    auth_interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None,
) -> ServiceHost:
    """A seat-service host, not yet started, with its index loaded and its resources closed after it.

    `platform` defaults to one configured from `settings.platform` (first, so the pools are traced);
    `auth_interceptors` default to the platform's token and certificate authentication with rate
    limits counted in the service's Redis. `platform.start(host, settings.server)` then binds the
    public (TLS), internal (mTLS) and health ports.
    """
    platform = platform or Platform.configure(settings.platform, service="seat")
    # Holds ask the monitor (made below, before any call can arrive) whether Redis is reachable.
    app = await open_app(settings, clock, redis_up=lambda: monitor.is_up("redis"))
    keys = IdempotencyStore(app.pool, app.committer)
    host = platform.create_host(
        [SERVICE_NAME],
        auth=platform.auth_interceptors(app.redis) if auth_interceptors is None else auth_interceptors,
        inner=[IdempotencyInterceptor(keys, settings.idempotency, on_replay=count_replay)],
    )

    async def postgres_check() -> None:
        async with app.pool.connection() as conn:
            await conn.execute("SELECT 1")

    monitor = DependencyMonitor(
        host.health,
        {"postgres": postgres_check, "redis": app.redis.ping},
        {SERVICE_NAME: ["postgres", "redis"]},
        interval=settings.health_interval.total_seconds(),
        timeout=settings.redis_timeout.total_seconds(),
    )
    limits = HoldLimits(settings.hold_ttl_default, settings.hold_ttl_min, settings.hold_ttl_max)
    seat_inventory_service_pb2_grpc.add_SeatInventoryServiceServicer_to_server(  # type: ignore[no-untyped-call]
        SeatInventoryServicer(app.inventory, app.hub, limits), host.server
    )
    await app.builder.rebuild_recent(settings.index_window)
    purger = KeyPurger(keys, settings.idempotency)
    monitor.start()
    app.sweeper.start()
    purger.start()
    host.on_close(app.close)
    host.on_close(monitor.stop)
    host.on_close(purger.stop)
    return host


async def serve() -> None:
    """Builds, starts and runs one seat-service process until SIGTERM (a worker of `run_workers`)."""
    await run_service(SeatSettings.from_env(), "seat", build_server)
