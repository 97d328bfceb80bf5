"""OpenTelemetry tracing from settings: gRPC server and client spans, psycopg and Redis spans.

With no OTLP endpoint configured tracing is off and costs nothing: no provider, no interceptors,
no patched drivers. With one, a process gets one tracer provider that samples a ratio of new
traces and follows the caller's decision for the rest (ParentBased), so a trace started upstream
(the W3C `traceparent` a gateway received) is kept or dropped whole. A dropped trace costs little:
its calls pass only the trace context on (`common.interceptors.tracing`), and database and Redis
calls outside a kept trace start no span (`SampledTracesOnly`). Configure it once per process,
before opening database or Redis pools, and pass the interceptors to the server and channels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from common.interceptors.tracing import SampledClientSpans, SampledServerSpans
from common.settings import Env

log = structlog.get_logger()


@dataclass(frozen=True)
class TracingSettings:
    """Where spans go and how many new traces are kept."""

    otlp_endpoint: str | None
    sample_ratio: float

    @classmethod
    def from_env(cls, env: Env) -> TracingSettings:
        """Reads `TRACING_OTLP_ENDPOINT` (unset: tracing off) and `TRACING_SAMPLE_RATIO` (default 0.01)."""
        return cls(
            otlp_endpoint=env.optional_text("TRACING_OTLP_ENDPOINT"),
            sample_ratio=env.number("TRACING_SAMPLE_RATIO", 0.01, minimum=0.0, maximum=1.0),
        )


@dataclass
class Tracing:
    """A process's tracing: the interceptors to install, and the flush at shutdown."""

    provider: TracerProvider | None = None

    @property
    def enabled(self) -> bool:
        """True when spans are recorded and exported."""
        return self.provider is not None

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """A span per incoming call of a kept trace (health checks and reflection excluded),
        continuing the caller's trace; see `common.interceptors.tracing`."""
        if self.provider is None:
            return []
        spans = aio_server_interceptor(tracer_provider=self.provider)  # type: ignore[no-untyped-call]
        return [SampledServerSpans(spans)]

    def client_interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        """A span per outgoing call of a kept trace; every call's trace context sent on as
        `traceparent` metadata."""
        if self.provider is None:
            return []
        spans = aio_client_interceptors(tracer_provider=self.provider)  # type: ignore[no-untyped-call]
        return [SampledClientSpans(spans)]

    async def shutdown(self) -> None:
        """Exports what is still buffered; register it with `ServiceHost.on_close`."""
        if self.provider is not None:
            await asyncio.to_thread(self.provider.force_flush)


class SampledTracesOnly(trace.TracerProvider):
    """Tracers that start spans only inside a sampled trace: a database or Redis call of background
    work, outside any trace, then costs one flag check instead of a span (a call of an unsampled
    request never gets this far: its instrumentation is suppressed)."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _SampledChildTracer(self._provider.get_tracer(*args, **kwargs))


class _SampledChildTracer(trace.Tracer):
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Context | None = None, *args: Any, **kwargs: Any) -> trace.Span:
        if not _in_sampled_trace(context):
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not _in_sampled_trace(context):
            yield trace.INVALID_SPAN
            return
        with self._tracer.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


def _in_sampled_trace(context: Context | None) -> bool:
    return bool(trace.get_current_span(context).get_span_context().trace_flags.sampled)


_configured: Tracing | None = None


def build_provider(
    settings: TracingSettings, service: str, exporter: SpanExporter | None = None
) -> TracerProvider:
    """A tracer provider for `service`, exporting to `exporter` or else to the OTLP endpoint."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": "farebox"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_endpoint is not None:
        endpoint = settings.otlp_endpoint
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://")))
        )
    return provider


def configure_tracing(
    settings: TracingSettings, service: str, exporter: SpanExporter | None = None
) -> Tracing:
    """The process's tracing, set up on first call: global provider, psycopg and Redis spans.

    Off (and nothing touched) without an endpoint or exporter; later calls return the first setup.
    """
    global _configured
    if settings.otlp_endpoint is None and exporter is None:
        return Tracing()
    if _configured is None:
        provider = build_provider(settings, service, exporter)
        trace.set_tracer_provider(provider)
        drivers = SampledTracesOnly(provider)
        PsycopgInstrumentor().instrument(tracer_provider=drivers)
        RedisInstrumentor().instrument(tracer_provider=drivers)
        _configured = Tracing(provider)
        log.info(
            "tracing_configured",
            endpoint=settings.otlp_endpoint,
            sample_ratio=settings.sample_ratio,
            service=service,
        )
    return _configured
