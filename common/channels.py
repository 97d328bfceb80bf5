"""The client channel factory: keepalive, round robin over resolved addresses, a deadline on every call."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grpc

from common.request_context import outgoing_timeout

_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})

CHANNEL_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.enable_retries", 0),
)


class DeadlineClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Gives every outgoing call a deadline: the incoming one minus a margin, never unbounded."""

    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=outgoing_timeout(self.default_timeout))
        return await continuation(client_call_details, request)


def create_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    default_timeout: float = 5.0,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """A channel to `target` (use `dns:///name:port` for a headless Service to balance per call)."""
    chain = [DeadlineClientInterceptor(default_timeout), *interceptors]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=list(CHANNEL_OPTIONS), interceptors=chain)
    return grpc.aio.secure_channel(target, credentials, options=list(CHANNEL_OPTIONS), interceptors=chain)
