"""gRPC server metrics under py-grpc-prometheus's names, labels and buckets, for grpc.aio servers.

py-grpc-prometheus's own interceptor serves only sync servers; this one keeps its series so stock
dashboards work: `grpc_server_started_total`, `grpc_server_handled_total` (with `grpc_code`),
`grpc_server_msg_received_total`, `grpc_server_msg_sent_total` and the
`grpc_server_handling_seconds` histogram (prometheus-client's default buckets), each labelled
`grpc_type` (UNARY, SERVER_STREAMING, CLIENT_STREAMING, BIDI_STREAMING), `grpc_service` and
`grpc_method`; codes are `grpc.StatusCode` names. Messages are counted as go-grpc-prometheus
counts them: every message received, every message sent, a unary response only when it succeeds.
List it first so it times and counts what every other interceptor does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from common.interceptors.wrapping import MethodWrapper, behavior_of, responses_of, rewrap

LABELS = ("grpc_type", "grpc_service", "grpc_method")

UNARY = "UNARY"
SERVER_STREAMING = "SERVER_STREAMING"
CLIENT_STREAMING = "CLIENT_STREAMING"
BIDI_STREAMING = "BIDI_STREAMING"


def grpc_type(request_streaming: bool, response_streaming: bool) -> str:
    """The `grpc_type` label of a method, as py-grpc-prometheus spells it."""
    if request_streaming:
        return BIDI_STREAMING if response_streaming else CLIENT_STREAMING
    return SERVER_STREAMING if response_streaming else UNARY


def split_method(full_method: str) -> tuple[str, str]:
    """`/package.Service/Method` as (`package.Service`, `Method`)."""
    _, service, method = full_method.split("/", 2)
    return service, method


@dataclass
class MethodSeries:
    """One method's series, resolved once so a call pays no label lookups."""

    labels: tuple[str, str, str]
    started: Any
    received: Any
    sent: Any
    handling_seconds: Any
    handled_family: Counter
    handled: dict[grpc.StatusCode, Any] = field(default_factory=dict)

    def finish(self, code: grpc.StatusCode, started_at: float) -> None:
        """Counts the call as handled with `code` and observes its duration."""
        child = self.handled.get(code)
        if child is None:
            child = self.handled[code] = self.handled_family.labels(*self.labels, code.name)
        child.inc()
        self.handling_seconds.observe(time.perf_counter() - started_at)


@dataclass(frozen=True)
class GrpcMetrics:
    """One side's (server or client) gRPC series."""

    started: Counter
    handled: Counter
    received: Counter
    sent: Counter
    handling_seconds: Histogram

    def series(self, kind: str, full_method: str) -> MethodSeries:
        """The series of one method called as `kind` (a `grpc_type` value)."""
        labels = (kind, *split_method(full_method))
        return MethodSeries(
            labels=labels,
            started=self.started.labels(*labels),
            received=self.received.labels(*labels),
            sent=self.sent.labels(*labels),
            handling_seconds=self.handling_seconds.labels(*labels),
            handled_family=self.handled,
        )


@cache
def server_metrics() -> GrpcMetrics:
    """The gRPC server series, registered on the default registry on first use."""
    return GrpcMetrics(
        started=Counter("grpc_server_started_total", "Total number of RPCs started on the server.", LABELS),
        handled=Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*LABELS, "grpc_code"),
        ),
        received=Counter(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            LABELS,
        ),
        sent=Counter(
            "grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", LABELS
        ),
        handling_seconds=Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the "
            "server.",
            LABELS,
        ),
    )


class ServerMetricsInterceptor(MethodWrapper):
    """Counts and times every call of every implemented method, unary and streaming alike."""

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        kind = grpc_type(handler.request_streaming, handler.response_streaming)
        series = server_metrics().series(kind, method)
        if handler.response_streaming:
            return rewrap(handler, _streaming_response(series, handler))
        return rewrap(handler, _single_response(series, handler))


def _single_response(series: MethodSeries, handler: grpc.RpcMethodHandler) -> Callable[..., Awaitable[Any]]:
    inner = behavior_of(handler)

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started_at = _start(series, handler)
        if handler.request_streaming:
            request = _counted(request, series.received)
        try:
            response = await inner(request, context)
        except BaseException as error:
            series.finish(_error_code(error, context), started_at)
            raise
        code = _context_code(context)
        if code is grpc.StatusCode.OK:
            series.sent.inc()
        series.finish(code, started_at)
        return response

    return behavior


def _streaming_response(
    series: MethodSeries, handler: grpc.RpcMethodHandler
) -> Callable[..., AsyncIterator[Any]]:
    inner = behavior_of(handler)

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started_at = _start(series, handler)
        if handler.request_streaming:
            request = _counted(request, series.received)
        try:
            async for response in responses_of(inner, request, context):
                yield response
                series.sent.inc()
        except BaseException as error:
            series.finish(_error_code(error, context), started_at)
            raise
        series.finish(_context_code(context), started_at)

    return behavior


def _start(series: MethodSeries, handler: grpc.RpcMethodHandler) -> float:
    series.started.inc()
    if not handler.request_streaming:
        series.received.inc()
    return time.perf_counter()


async def _counted(requests: AsyncIterator[Any], counter: Any) -> AsyncIterator[Any]:
    async for request in requests:
        counter.inc()
        yield request


def _context_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a handler that returned normally ends with: OK unless it set another."""
    code: grpc.StatusCode | None = context.code()
    return code or grpc.StatusCode.OK


def _error_code(error: BaseException, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a call that raised ends with, as gRPC will send it."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    if isinstance(error, grpc.aio.AbortError):
        code: grpc.StatusCode | None = context.code()
        return code or grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.UNKNOWN
