"""The cross-cutting parts of every service process, wired one way: transport security,
authentication, rate limits, metrics and tracing.

A service's `build_server` asks its `Platform` for the interceptor chain and its channels' options;
its `__main__` asks it to bind the ports: the public port (TLS; callers bring bearer tokens) and the
internal port (TLS that requires a client certificate from the Farebox CA; other services' calls).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from redis.asyncio import Redis

from common.client_metrics import client_metrics_interceptors
from common.interceptors.auth import AuthInterceptor
from common.interceptors.chain import standard_interceptors
from common.interceptors.metrics import ServerMetricsInterceptor
from common.interceptors.rate_limit import RateLimitInterceptor
from common.jwt_auth import JwtVerifier
from common.logs import configure_logging
from common.metrics import MetricsSettings
from common.rate_limit import RateLimiter
from common.security_settings import SecuritySettings
from common.server import ServiceHost, freeze_start_up_objects, serve_until_signalled
from common.settings import Env, ServerSettings
from common.tls import bind, channel_credentials, server_credentials
from common.tracing import Tracing, TracingSettings, configure_tracing


@dataclass(frozen=True)
class PlatformSettings:
    """Security, tracing and metrics settings, and the internal (mTLS) port."""

    security: SecuritySettings
    tracing: TracingSettings
    metrics: MetricsSettings
    internal_port: int

    @classmethod
    def from_env(cls, env: Env, prefix: str, default_internal_port: int) -> PlatformSettings:
        """Reads FAREBOX_* security settings, TRACING_*, `<PREFIX>_METRICS_DIR`, `<PREFIX>_INTERNAL_PORT`."""
        return cls(
            security=SecuritySettings.from_env(env),
            tracing=TracingSettings.from_env(env),
            metrics=MetricsSettings.from_env(env, prefix),
            internal_port=env.integer(
                f"{prefix}_INTERNAL_PORT", default_internal_port, minimum=0, maximum=65535
            ),
        )


@dataclass
class Platform:
    """One process's security, metrics and tracing."""

    settings: PlatformSettings
    tracing: Tracing
    verifier: JwtVerifier | None = field(default=None)

    @classmethod
    def configure(cls, settings: PlatformSettings, service: str) -> Platform:
        """Sets up tracing (before any pool opens, so drivers are traced) and the token verifier."""
        return cls(
            settings=settings,
            tracing=configure_tracing(settings.tracing, service),
            verifier=JwtVerifier.from_settings(settings.security.jwt),
        )

    def auth_interceptors(self, redis: Redis | None) -> list[grpc.aio.ServerInterceptor]:
        """Authentication and roles, then rate limits when the service has a Redis to count in."""
        tls = self.settings.security.tls
        chain: list[grpc.aio.ServerInterceptor] = [AuthInterceptor(self.verifier, tls.service_identities)]
        if redis is not None:
            limiter = RateLimiter(redis, self.settings.security.rate_limits)
            chain.append(RateLimitInterceptor(limiter, tls.trusted_proxies))
        return chain

    def create_host(
        self,
        service_names: Sequence[str],
        auth: Sequence[grpc.aio.ServerInterceptor],
        inner: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> ServiceHost:
        """A host whose chain is tracing, metrics, context, errors, policy, `auth`, then `inner`.

        Tracing goes first: for a kept trace OpenTelemetry's interceptor builds a new handler on
        every call, so anything outside it could not reuse its wrapper per method.
        """
        interceptors = [
            *self.tracing.server_interceptors(),
            ServerMetricsInterceptor(),
            *standard_interceptors(*auth, *inner),
        ]
        host = ServiceHost.create(service_names, interceptors=interceptors)
        host.on_close(self.close)
        return host

    def client_interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        """Client metrics and trace propagation for outgoing channels."""
        return [*client_metrics_interceptors(), *self.tracing.client_interceptors()]

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """This service's client certificate for other services' internal ports; None in plaintext dev."""
        return channel_credentials(self.settings.security.tls)

    async def start(self, host: ServiceHost, server: ServerSettings) -> None:
        """Binds the internal port (client certificate required), then starts on the public port."""
        tls = self.settings.security.tls
        internal = f"{server.host}:{self.settings.internal_port}"
        host.internal_port = bind(host.server, internal, server_credentials(tls, require_client_auth=True))
        health = f"{server.host}:{server.health_port}" if server.health_port else None
        await host.start(
            f"{server.host}:{server.port}",
            server_credentials(tls, require_client_auth=False),
            health_address=health,
        )

    async def close(self) -> None:
        """Flushes traces and closes the verifier's key source."""
        if self.verifier is not None:
            await self.verifier.close()
        await self.tracing.shutdown()


class ServiceSettings(Protocol):
    """What `run_service` needs of a service's settings."""

    @property
    def server(self) -> ServerSettings: ...

    @property
    def platform(self) -> PlatformSettings: ...


async def run_service(
    settings: ServiceSettings, service: str, build: Callable[..., Awaitable[ServiceHost]]
) -> None:
    """One service process: its logs, its platform (tracing first, so the pools are traced), the host
    `build(settings, platform=...)` makes, start-up objects frozen, its ports, then serving until
    SIGTERM."""
    configure_logging(settings.server.log_level, service=service)
    platform = Platform.configure(settings.platform, service=service)
    host = await build(settings, platform=platform)
    freeze_start_up_objects()
    await platform.start(host, settings.server)
    await serve_until_signalled(host, settings.server)
