"""Wires the payment service: platform (TLS, auth, metrics, tracing), ledger, provider guard,
idempotency, servicer, health."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from farebox.payment.v1 import payment_service_pb2, payment_service_pb2_grpc

from common.db import open_pool
from common.dependency_health import DependencyMonitor
from common.domain_metrics import domain_metrics
from common.group_commit import GroupCommitter
from common.idempotency import IdempotencyStore, KeyPurger
from common.interceptors.idempotency import IdempotencyInterceptor
from common.platform import Platform, run_service
from common.server import ServiceHost
from payment_service.payments import Payments
from payment_service.provider_guard import ProviderGuard
from payment_service.providers.base import PaymentProvider
from payment_service.providers.sandbox import SandboxProvider
from payment_service.servicer import PaymentServicer
from payment_service.settings import PaymentSettings
from payment_service.store import PaymentStore

SERVICE_NAME = payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name


def count_replay(method: str) -> None:
    """Counts an answer the idempotency interceptor replayed."""
    domain_metrics().idempotent_replays.labels(method=method).inc()


async def build_server(
    settings: PaymentSettings,
    provider: PaymentProvider | None = None,
    *,
    platform: Platform | None = None,
    auth_interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None,
) -> ServiceHost:
    """A payment-service host, not yet started; `provider` defaults to the configured one (the sandbox).

    `platform` defaults to one configured from `settings.platform` (first, so the pool is traced);
    `auth_interceptors` default to the platform's token and certificate authentication (every
    method is internal, so nothing is rate limited and no Redis is needed).
    `platform.start(host, settings.server)` then binds the public (TLS), internal (mTLS) and health
    ports.
    """
    platform = platform or Platform.configure(settings.platform, service="payment")
    pool = await open_pool(settings.database_url, max_size=settings.pool_size, name="payment")
    committer = GroupCommitter(pool)
    keys = IdempotencyStore(pool, committer)
    guard = ProviderGuard(
        provider or SandboxProvider(settings.sandbox),
        timeout=settings.provider_timeout,
        fail_max=settings.breaker_fail_max,
        reset_timeout=settings.breaker_reset_timeout,
    )
    host = platform.create_host(
        [SERVICE_NAME],
        auth=platform.auth_interceptors(None) if auth_interceptors is None else auth_interceptors,
        inner=[IdempotencyInterceptor(keys, settings.idempotency, on_replay=count_replay)],
    )
    servicer = PaymentServicer(Payments(PaymentStore(pool), guard))
    payment_service_pb2_grpc.add_PaymentServiceServicer_to_server(servicer, host.server)  # type: ignore[no-untyped-call]

    async def postgres_check() -> None:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")

    monitor = DependencyMonitor(host.health, {"postgres": postgres_check}, {SERVICE_NAME: ["postgres"]})
    purger = KeyPurger(keys, settings.idempotency)
    monitor.start()
    purger.start()
    host.on_close(pool.close)
    host.on_close(committer.close)
    host.on_close(monitor.stop)
    host.on_close(purger.stop)
    return host


async def serve() -> None:
    """Builds, starts and runs one payment-service process until SIGTERM (a worker of `run_workers`)."""
    await run_service(PaymentSettings.from_env(), "payment", build_server)
