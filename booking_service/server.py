"""Wires the booking service: platform (TLS, auth, rate limits, metrics, tracing), store, clients, saga,
background work, idempotency, servicer, health."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from farebox.booking.v1 import booking_service_pb2, booking_service_pb2_grpc
from redis.asyncio import Redis

from booking_service.cancellation import Cancellations
from booking_service.clients import PaymentClient, SeatClient, open_channels
from booking_service.domain import Limits
from booking_service.outbox import OutboxRelay
from booking_service.recovery import Recovery
from booking_service.reservations import Reservations
from booking_service.saga import SagaRunner
from booking_service.servicer import BookingServicer
from booking_service.settings import BookingSettings
from booking_service.store import BookingStore
from booking_service.sweeper import Sweeper
from booking_service.tickets import TicketSigner
from common.db import open_pool
from common.dependency_health import DependencyMonitor
from common.domain_metrics import domain_metrics
from common.group_commit import GroupCommitter
from common.idempotency import IdempotencyStore, KeyPurger
from common.interceptors.idempotency import IdempotencyInterceptor
from common.periodic import Periodic
from common.platform import Platform, run_service
from common.server import ServiceHost

SERVICE_NAME = booking_service_pb2.DESCRIPTOR.services_by_name["BookingService"].full_name


def count_replay(method: str) -> None:
    """Counts an answer the idempotency interceptor replayed."""
    domain_metrics().idempotent_replays.labels(method=method).inc()


async def build_server(
    settings: BookingSettings,
    *,
    platform: Platform | None = None,
    auth_interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None,
) -> ServiceHost:
    """A booking-service host, not yet started; recovery, the sweeper and the relay already run.

    `platform` defaults to one configured from `settings.platform` (first, so the pools are traced);
    `auth_interceptors` default to the platform's token and certificate authentication with rate
    limits counted in the service's Redis; they run before the idempotency interceptor, whose keys
    are scoped to the caller. The seat and payment channels present the platform's certificate (the
    booking service's identity on their internal ports). `platform.start(host, settings.server)`
    then binds the public (TLS), internal (mTLS) and health ports.
    """
    platform = platform or Platform.configure(settings.platform, service="booking")
    pool = await open_pool(settings.database_url, max_size=settings.pool_size, name="booking")
    committer = GroupCommitter(pool)
    keys = IdempotencyStore(pool, committer)
    redis = Redis.from_url(settings.redis_url)
    tls = platform.settings.security.tls
    seat_channel = open_channels(settings.seat, tls, platform.client_interceptors())
    payment_channel = open_channels(settings.payment, tls, platform.client_interceptors())
    store = BookingStore(pool)
    seat = SeatClient(seat_channel, settings.seat)
    runner = SagaRunner(
        store,
        seat,
        PaymentClient(payment_channel, settings.payment),
        TicketSigner(settings.ticket_key),
        settings.saga,
    )
    limits = Limits(settings.max_pending_per_user, settings.max_seats_per_booking)
    servicer = BookingServicer(
        Reservations(store, seat, limits, settings.hold_ttl),
        runner,
        Cancellations(store, seat, runner, settings.cancellation_cutoff),
    )
    host = platform.create_host(
        [SERVICE_NAME],
        auth=platform.auth_interceptors(redis) if auth_interceptors is None else auth_interceptors,
        inner=[IdempotencyInterceptor(keys, settings.idempotency, on_replay=count_replay)],
    )
    booking_service_pb2_grpc.add_BookingServiceServicer_to_server(servicer, host.server)  # type: ignore[no-untyped-call]

    async def postgres_check() -> None:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")

    monitor = DependencyMonitor(
        host.health, {"postgres": postgres_check, "redis": redis.ping}, {SERVICE_NAME: ["postgres"]}
    )
    background: list[Periodic | KeyPurger] = [
        KeyPurger(keys, settings.idempotency),
        Periodic("saga_recovery", Recovery(store, runner).run_once, settings.saga.recovery_interval),
        Periodic("booking_sweeper", Sweeper(store, seat).sweep_once, settings.sweep_interval),
    ]
    if settings.run_relay:
        relay = OutboxRelay(store, redis, settings.events.stream, settings.events.max_length)
        background.append(Periodic("outbox_relay", relay.relay_once, settings.events.relay_interval))
    host.on_close(pool.close)
    host.on_close(committer.close)
    host.on_close(redis.aclose)
    host.on_close(seat_channel.close)
    host.on_close(payment_channel.close)
    host.on_close(monitor.stop)
    host.on_close(runner.drain)
    monitor.start()
    for work in background:
        work.start()
        host.on_close(work.stop)
    return host


async def serve() -> None:
    """Builds, starts and runs one booking-service process until SIGTERM (a worker of `run_workers`)."""
    await run_service(BookingSettings.from_env(), "booking", build_server)
