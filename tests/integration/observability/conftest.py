"""The process's tracing for observability tests, exporting to memory, set up once per session.

Tracing stays configured for the rest of the session (a process has one provider), so the exporter
keeps spans only while a test asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common.tracing import Tracing, TracingSettings, configure_tracing


class CollectingExporter(InMemorySpanExporter):
    """Keeps finished spans in memory while `collecting`, drops them otherwise."""

    collecting = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.collecting:
            return SpanExportResult.SUCCESS
        return super().export(spans)


@pytest.fixture(scope="session")
def span_exporter() -> CollectingExporter:
    """Where the session's spans go."""
    return CollectingExporter()


@pytest.fixture(scope="session")
def tracing(span_exporter: CollectingExporter) -> Tracing:
    """Tracing that keeps every trace, its spans in memory."""
    settings = TracingSettings(otlp_endpoint=None, sample_ratio=1.0)
    return configure_tracing(settings, "probe", exporter=span_exporter)


@pytest.fixture
def spans(tracing: Tracing, span_exporter: CollectingExporter) -> Iterator[InMemorySpanExporter]:
    """The spans finished during the test."""
    span_exporter.clear()
    span_exporter.collecting = True
    yield span_exporter
    span_exporter.collecting = False
    span_exporter.clear()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts back the logging configuration a test changed."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()
