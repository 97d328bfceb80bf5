"""gRPC tracing that does the work of a span only for traces that are kept.

OpenTelemetry's interceptors start a span on every call, recorded or not, and its psycopg and Redis
instrumentations prepare one for every statement: at a 1% sampling ratio, work thrown away 99 times
in 100. Here OpenTelemetry's interceptors see only the calls of a new trace (its sampler decides)
or of a sampled one. A call of an unsampled trace skips them: the server runs it in its caller's
trace context and the client sends that context on as `traceparent`, so the decision still reaches
every hop and log lines still carry the trace id. While a server call's trace is unsampled,
instrumentation is suppressed, so the drivers' instrumentations return at their first check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc
from grpc.aio import ClientCallDetails, Metadata
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagate import extract, inject

from common.interceptors.policy import OPEN_SERVICES
from common.interceptors.wrapping import Continuation, MethodWrapper, behavior_of, responses_of, rewrap

TRACEPARENT = "traceparent"


def is_traced(details: Any) -> bool:
    """Every call but health checks and reflection (`OPEN_SERVICES`), on either side."""
    method = details.method
    if isinstance(method, bytes):  # grpc.aio client call details carry bytes
        method = method.decode()
    return not str(method).startswith(OPEN_SERVICES)


def _in_unsampled_trace(context: context_api.Context | None = None) -> bool:
    """True when `context` (by default the current one) holds a valid trace that is not sampled."""
    span_context = trace.get_current_span(context).get_span_context()
    return span_context.is_valid and not span_context.trace_flags.sampled


def _caller_context(metadata: Sequence[tuple[str, Any]] | None) -> context_api.Context | None:
    """The trace context the caller sent (W3C trace context and baggage), or None without one."""
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    if TRACEPARENT not in carrier:
        return None
    return extract(carrier)


def _from_unsampled_trace(metadata: Sequence[tuple[str, Any]] | None) -> bool:
    """True when the caller sent the context of an unsampled trace."""
    caller = _caller_context(metadata)
    return caller is not None and _in_unsampled_trace(caller)


class SampledServerSpans(MethodWrapper):
    """OpenTelemetry's server span (`spans`) for new and sampled traces; the caller's context, and
    suppressed instrumentation, for unsampled ones."""

    def __init__(self, spans: grpc.aio.ServerInterceptor) -> None:
        super().__init__()
        self._spans = spans

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        if not is_traced(handler_call_details):
            return await continuation(handler_call_details)
        if _from_unsampled_trace(handler_call_details.invocation_metadata):
            return await super().intercept_service(continuation, handler_call_details)

        async def scoped(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            return self.wrapped(await continuation(details), details.method)

        return await self._spans.intercept_service(scoped, handler_call_details)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        inner = behavior_of(handler)
        if handler.response_streaming:

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with _unsampled_trace_scope(context):
                    async for response in responses_of(inner, request, context):
                        yield response

            return rewrap(handler, stream)

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with _unsampled_trace_scope(context):
                return await inner(request, context)

        return rewrap(handler, unary)


@contextmanager
def _unsampled_trace_scope(context: grpc.aio.ServicerContext) -> Iterator[None]:
    """The call's trace context: OpenTelemetry's span when it started one, else the caller's; with
    instrumentation suppressed while that trace is unsampled."""
    token = None
    if not trace.get_current_span().get_span_context().is_valid:
        caller = _caller_context(context.invocation_metadata())
        token = context_api.attach(caller) if caller is not None else None
    try:
        if _in_unsampled_trace():
            with suppress_instrumentation():
                yield
        else:
            yield
    finally:
        if token is not None:
            context_api.detach(token)


ClientContinuation = Callable[[ClientCallDetails, Any], Awaitable[Any]]


class SampledClientSpans(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.aio.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """OpenTelemetry's client spans (`spans`, one interceptor per call kind) for new and sampled
    traces; for an unsampled one, its context sent on as `traceparent` metadata."""

    def __init__(self, spans: Sequence[grpc.aio.ClientInterceptor]) -> None:
        self._unary_unary = _one_of(spans, grpc.aio.UnaryUnaryClientInterceptor)
        self._unary_stream = _one_of(spans, grpc.aio.UnaryStreamClientInterceptor)
        self._stream_unary = _one_of(spans, grpc.aio.StreamUnaryClientInterceptor)
        self._stream_stream = _one_of(spans, grpc.aio.StreamStreamClientInterceptor)

    async def intercept_unary_unary(
        self, continuation: ClientContinuation, client_call_details: ClientCallDetails, request: Any
    ) -> Any:
        return await _route(
            self._unary_unary.intercept_unary_unary, continuation, client_call_details, request
        )

    async def intercept_unary_stream(
        self, continuation: ClientContinuation, client_call_details: ClientCallDetails, request: Any
    ) -> Any:
        return await _route(
            self._unary_stream.intercept_unary_stream, continuation, client_call_details, request
        )

    async def intercept_stream_unary(
        self, continuation: ClientContinuation, client_call_details: ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await _route(
            self._stream_unary.intercept_stream_unary, continuation, client_call_details, request_iterator
        )

    async def intercept_stream_stream(
        self, continuation: ClientContinuation, client_call_details: ClientCallDetails, request_iterator: Any
    ) -> Any:
        return await _route(
            self._stream_stream.intercept_stream_stream, continuation, client_call_details, request_iterator
        )


async def _route(
    spans: Callable[..., Awaitable[Any]],
    continuation: ClientContinuation,
    details: ClientCallDetails,
    request: Any,
) -> Any:
    """The call through OpenTelemetry's interceptor (`spans`) when it is traced outside an unsampled
    trace; otherwise straight on, carrying the current trace context."""
    if is_traced(details) and not _in_unsampled_trace():
        return await spans(continuation, details, request)
    return await continuation(_with_trace_context(details), request)


def _one_of(interceptors: Sequence[grpc.aio.ClientInterceptor], kind: type) -> Any:
    return next(interceptor for interceptor in interceptors if isinstance(interceptor, kind))


def _with_trace_context(details: ClientCallDetails) -> ClientCallDetails:
    """`details` with the current trace context added to its metadata."""
    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return details
    metadata = Metadata(*(details.metadata or ()), *carrier.items())
    return details._replace(metadata=metadata)
