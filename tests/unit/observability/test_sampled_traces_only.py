"""Driver spans (PostgreSQL, Redis) start only inside a sampled trace."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

from common.tracing import SampledTracesOnly


def _provider(sampler: object, exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider(sampler=sampler)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_a_driver_call_is_a_span_only_inside_a_sampled_trace() -> None:
    exporter = InMemorySpanExporter()
    driver = SampledTracesOnly(_provider(ALWAYS_ON, exporter)).get_tracer("driver")

    with driver.start_as_current_span("background query") as span:
        assert not span.is_recording()
    with _provider(ALWAYS_OFF, exporter).get_tracer("app").start_as_current_span("unsampled request"):
        with driver.start_as_current_span("query of an unsampled request") as span:
            assert not span.is_recording()
        assert not driver.start_span("another").is_recording()
    with _provider(ALWAYS_ON, exporter).get_tracer("app").start_as_current_span("sampled request"):
        with driver.start_as_current_span("query of a sampled request") as span:
            assert span.is_recording()

    finished = {span.name: span for span in exporter.get_finished_spans()}
    assert set(finished) == {"sampled request", "query of a sampled request"}
    child, parent = finished["query of a sampled request"], finished["sampled request"]
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
