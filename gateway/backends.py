"""One shared channel per backend, and generic calls over it.

A service's backend is picked by its package's domain (`farebox.seat.v1` -> `seat`). Each target has
one `common.tls.ReloadingChannel`: TLS presenting the gateway's own certificate (its identity, which
the services trust as the proxy whose `x-forwarded-for` they believe), rebuilt when the certificate
files are renewed; plaintext under FAREBOX_INSECURE_DEV. Channels are opened at start-up and closed
at shutdown; calls go through `channel.unary_unary` / `channel.unary_stream` with the route's
message classes, so no stub is written per RPC and no request opens a connection of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.security_settings import TlsSettings
from common.tls import ReloadingChannel
from gateway.routes import Route


class BackendError(ValueError):
    """A routed service has no configured backend."""


def domain_of(service: str) -> str:
    """The contract domain of a service's full name: `farebox.seat.v1.X` -> `seat`."""
    parts = service.split(".")
    return parts[1] if len(parts) > 2 else ""


class Backends:
    """The channels to the backends of the routed services."""

    def __init__(
        self,
        targets: Mapping[str, str],
        services: Iterable[str],
        *,
        tls: TlsSettings,
        default_timeout: float,
    ) -> None:
        self._service_targets: dict[str, str] = {}
        for service in services:
            target = targets.get(domain_of(service))
            if target is None:
                raise BackendError(f"no backend target for {service}")
            self._service_targets[service] = target
        self._channels: dict[str, ReloadingChannel] = {
            target: ReloadingChannel(target, tls, default_timeout=default_timeout)
            for target in sorted(set(self._service_targets.values()))
        }
        self._unary: dict[str, tuple[grpc.aio.Channel, grpc.aio.UnaryUnaryMultiCallable]] = {}
        self._stream: dict[str, tuple[grpc.aio.Channel, grpc.aio.UnaryStreamMultiCallable]] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        """The current shared channel to a service's backend."""
        return self._channels[self._service_targets[service]].channel()

    def unary(self, route: Route) -> grpc.aio.UnaryUnaryMultiCallable:
        """The generic unary callable of a route's RPC on the backend's current channel."""
        channel = self.channel(route.service)
        cached = self._unary.get(route.grpc_path)
        if cached is None or cached[0] is not channel:
            callable_ = channel.unary_unary(
                route.grpc_path,
                request_serializer=_serialize,
                response_deserializer=route.response_class.FromString,
            )
            cached = self._unary[route.grpc_path] = (channel, callable_)
        return cached[1]

    def stream(self, route: Route) -> grpc.aio.UnaryStreamMultiCallable:
        """The generic server-streaming callable of a route's RPC on the backend's current channel."""
        channel = self.channel(route.service)
        cached = self._stream.get(route.grpc_path)
        if cached is None or cached[0] is not channel:
            callable_ = channel.unary_stream(
                route.grpc_path,
                request_serializer=_serialize,
                response_deserializer=route.response_class.FromString,
            )
            cached = self._stream[route.grpc_path] = (channel, callable_)
        return cached[1]

    async def health(self, wait_seconds: float) -> dict[str, str]:
        """Each routed service's gRPC health status name, or the error code that kept us from it."""
        services = sorted(self._service_targets)
        results = await asyncio.gather(*(self._check(service, wait_seconds) for service in services))
        return dict(zip(services, results, strict=True))

    async def _check(self, service: str, wait_seconds: float) -> str:
        stub = health_pb2_grpc.HealthStub(self.channel(service))
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=wait_seconds)
        except grpc.aio.AioRpcError as error:
            return str(error.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    async def close(self) -> None:
        """Closes every channel."""
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())
