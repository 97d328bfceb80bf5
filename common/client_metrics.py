"""gRPC client metrics under py-grpc-prometheus's names, labels and buckets, for grpc.aio channels.

`grpc_client_started_total`, `grpc_client_handled_total` (with `grpc_code`),
`grpc_client_msg_sent_total`, `grpc_client_msg_received_total` and the
`grpc_client_handling_seconds` histogram, labelled like the server side. Messages are counted as
go-grpc-prometheus counts them. Covers the call shapes the contracts use: unary and server
streaming. Pass `client_metrics_interceptors()` to `common.channels.create_channel(interceptors=...)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from common.interceptors.metrics import LABELS, SERVER_STREAMING, UNARY, GrpcMetrics, MethodSeries


@cache
def client_metrics() -> GrpcMetrics:
    """The gRPC client series, registered on the default registry on first use."""
    return GrpcMetrics(
        started=Counter("grpc_client_started_total", "Total number of RPCs started on the client", LABELS),
        handled=Counter(
            "grpc_client_handled_total",
            "Total number of RPCs completed on the client, regardless of success or failure.",
            (*LABELS, "grpc_code"),
        ),
        received=Counter(
            "grpc_client_msg_received_total",
            "Total number of RPC stream messages received by the client.",
            LABELS,
        ),
        sent=Counter(
            "grpc_client_msg_sent_total", "Total number of gRPC stream messages sent by the client.", LABELS
        ),
        handling_seconds=Histogram(
            "grpc_client_handling_seconds",
            "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
            LABELS,
        ),
    )


class _SeriesCache:
    """Each method's client series, resolved once per process and shared by the interceptors."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], MethodSeries] = {}

    def get(self, method: str | bytes, kind: str) -> MethodSeries:
        name = method.decode() if isinstance(method, bytes) else method
        series = self._series.get((name, kind))
        if series is None:
            series = self._series[(name, kind)] = client_metrics().series(kind, name)
        return series


class UnaryMetricsInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Counts and times unary calls."""

    def __init__(self, series: _SeriesCache) -> None:
        self._series = series

    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        series = self._series.get(client_call_details.method, UNARY)
        series.started.inc()
        series.sent.inc()
        started_at = time.perf_counter()
        try:
            call = await continuation(client_call_details, request)
            code = await call.code()
        except grpc.aio.AioRpcError as error:
            series.finish(error.code(), started_at)
            raise
        except asyncio.CancelledError:
            series.finish(grpc.StatusCode.CANCELLED, started_at)
            raise
        if code is grpc.StatusCode.OK:
            series.received.inc()
        series.finish(code, started_at)
        return call


class StreamingMetricsInterceptor(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Counts and times server-streaming calls and every message they bring."""

    def __init__(self, series: _SeriesCache) -> None:
        self._series = series

    async def intercept_unary_stream(
        self, continuation: Callable[..., Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        series = self._series.get(client_call_details.method, SERVER_STREAMING)
        series.started.inc()
        series.sent.inc()
        started_at = time.perf_counter()
        call = await continuation(client_call_details, request)
        return _counted_responses(call, series, started_at)


def client_metrics_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """The interceptors to add to a channel (grpc.aio files each interceptor under one call shape)."""
    series = _SeriesCache()
    return [UnaryMetricsInterceptor(series), StreamingMetricsInterceptor(series)]


async def _counted_responses(call: Any, series: MethodSeries, started_at: float) -> AsyncIterator[Any]:
    try:
        async for response in call:
            series.received.inc()
            yield response
    except grpc.aio.AioRpcError as error:
        series.finish(error.code(), started_at)
        raise
    except (asyncio.CancelledError, GeneratorExit):
        series.finish(grpc.StatusCode.CANCELLED, started_at)
        raise
    series.finish(grpc.StatusCode.OK, started_at)
