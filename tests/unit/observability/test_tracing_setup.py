"""Tracing off costs nothing; on, it samples by ratio and follows the caller; logs carry its ids."""

from __future__ import annotations

from types import SimpleNamespace

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from common.interceptors.tracing import is_traced
from common.logs import add_trace_context
from common.tracing import TracingSettings, build_provider, configure_tracing


def test_without_an_endpoint_tracing_installs_nothing() -> None:
    tracing = configure_tracing(TracingSettings(otlp_endpoint=None, sample_ratio=1.0), "seat")
    assert not tracing.enabled
    assert tracing.server_interceptors() == []
    assert tracing.client_interceptors() == []


def test_ratio_zero_drops_new_traces_but_keeps_a_sampled_callers() -> None:
    exporter = InMemorySpanExporter()
    tracer = build_provider(
        TracingSettings(otlp_endpoint=None, sample_ratio=0.0), "seat", exporter
    ).get_tracer("t")
    with tracer.start_as_current_span("new_trace") as span:
        assert not span.is_recording()
    caller = SpanContext(
        trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    with tracer.start_as_current_span(
        "continued", context=trace.set_span_in_context(NonRecordingSpan(caller))
    ):
        pass
    assert [(span.name, span.context.trace_id) for span in exporter.get_finished_spans()] == [
        ("continued", 0xABC)
    ]


def test_ratio_one_keeps_every_new_trace() -> None:
    exporter = InMemorySpanExporter()
    tracer = build_provider(
        TracingSettings(otlp_endpoint=None, sample_ratio=1.0), "seat", exporter
    ).get_tracer("t")
    for index in range(5):
        with tracer.start_as_current_span(f"span{index}"):
            pass
    assert len(exporter.get_finished_spans()) == 5


def test_log_lines_carry_the_current_trace_and_span() -> None:
    tracer = build_provider(TracingSettings(otlp_endpoint=None, sample_ratio=1.0), "seat").get_tracer("t")
    with tracer.start_as_current_span("hold") as span:
        event = add_trace_context(None, "info", {"event": "seats_held"})
    context = span.get_span_context()
    assert event == {
        "event": "seats_held",
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "trace_sampled": True,
    }


def test_log_lines_outside_a_span_carry_no_ids() -> None:
    assert add_trace_context(None, "info", {"event": "started"}) == {"event": "started"}


def test_health_checks_and_reflection_are_not_traced_on_either_side() -> None:
    server_call = SimpleNamespace(
        method="/farebox.seat.v1.SeatInventoryService/HoldSeats"
    )  # as grpc.aio passes it
    assert is_traced(server_call)
    for method in (
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ):
        client_call = grpc.aio.ClientCallDetails(method.encode(), None, None, None, None)
        assert not is_traced(client_call)
    traced_client_call = grpc.aio.ClientCallDetails(
        b"/farebox.payment.v1.PaymentService/AuthorizePayment", None, None, None, None
    )
    assert is_traced(traced_client_call)
