"""Calls of an unsampled trace: no spans anywhere, the trace context still reaches every hop and every
log line, and the drivers' instrumentation is suppressed for the call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common.interceptors.tracing import SampledServerSpans
from common.logs import configure_logging
from common.tracing import Tracing, TracingSettings, build_provider
from tests.integration.observability.probe_service import ECHO, count_stub, echo_stub, start_probe

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
UNSAMPLED = (("traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-00"),)
SAMPLED = (("traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01"),)


@pytest.fixture
def dropping(span_exporter: InMemorySpanExporter) -> Tracing:
    """Tracing whose sampler keeps no new trace (ratio 0), exporting to the session's exporter."""
    return Tracing(
        build_provider(TracingSettings(otlp_endpoint=None, sample_ratio=0.0), "probe", span_exporter)
    )


async def _chain(tracing: Tracing) -> AsyncIterator[tuple[str, str]]:
    downstream, downstream_address = await start_probe(tracing.server_interceptors())
    middle, middle_address = await start_probe(tracing.server_interceptors(), tracing.client_interceptors())
    yield middle_address, downstream_address
    await middle.stop(None)
    await downstream.stop(None)


@pytest.fixture
async def chain(tracing: Tracing) -> AsyncIterator[tuple[str, str]]:
    """A middle probe calling a downstream one, under the session's keep-everything tracing."""
    async for addresses in _chain(tracing):
        yield addresses


@pytest.fixture
async def dropping_chain(dropping: Tracing) -> AsyncIterator[tuple[str, str]]:
    """The same chain under tracing that starts only unsampled traces."""
    async for addresses in _chain(dropping):
        yield addresses


def _echo_lines(out: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "probe_echo"]


async def _echo(address: str, value: str, metadata: tuple[tuple[str, str], ...] = ()) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await echo_stub(channel)(wrappers_pb2.StringValue(value=value), metadata=metadata)
    return str(reply.value)


async def test_a_callers_unsampled_trace_reaches_every_hop_and_records_nothing(
    chain: tuple[str, str],
    spans: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    middle, downstream = chain
    configure_logging("info", service="probe")
    assert await _echo(middle, f"call:{downstream}", UNSAMPLED) == "via:downstream"

    assert spans.get_finished_spans() == ()
    echoes = _echo_lines(capsys.readouterr().out)
    assert [line["value"] for line in echoes] == [f"call:{downstream}", "downstream"]
    assert all(line["trace_id"] == TRACE_ID and line["trace_sampled"] is False for line in echoes)


async def test_a_new_trace_the_sampler_drops_reaches_every_hop_and_records_nothing(
    dropping_chain: tuple[str, str],
    spans: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    middle, downstream = dropping_chain
    configure_logging("info", service="probe")
    assert await _echo(middle, f"call:{downstream}") == "via:downstream"

    assert spans.get_finished_spans() == ()
    echoes = _echo_lines(capsys.readouterr().out)
    assert len(echoes) == 2
    trace_ids = {line["trace_id"] for line in echoes}
    assert len(trace_ids) == 1 and None not in trace_ids
    assert all(line["trace_sampled"] is False for line in echoes)


async def test_driver_instrumentation_is_suppressed_only_in_unsampled_traces(
    chain: tuple[str, str], dropping_chain: tuple[str, str], spans: InMemorySpanExporter
) -> None:
    kept, _ = chain
    dropped, _ = dropping_chain
    assert await _echo(kept, "instrumentation") == "enabled"
    assert await _echo(kept, "instrumentation", SAMPLED) == "enabled"
    assert await _echo(kept, "instrumentation", UNSAMPLED) == "suppressed"
    assert await _echo(dropped, "instrumentation") == "suppressed"
    assert len(spans.get_finished_spans()) == 2  # the two kept calls' server spans


async def test_streams_of_an_unsampled_trace_are_served_without_spans(
    chain: tuple[str, str], spans: InMemorySpanExporter
) -> None:
    middle, _ = chain
    async with grpc.aio.insecure_channel(middle) as channel:
        replies = [
            reply.value
            async for reply in count_stub(channel)(wrappers_pb2.Int32Value(value=3), metadata=UNSAMPLED)
        ]
    assert replies == [0, 1, 2]
    assert spans.get_finished_spans() == ()


class CountingServerSpans(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """OpenTelemetry's server interceptor, counting the calls that reach it."""

    def __init__(self, tracing: Tracing) -> None:
        self.spans = aio_server_interceptor(tracer_provider=tracing.provider)
        self.calls = 0

    async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        self.calls += 1
        return await self.spans.intercept_service(continuation, handler_call_details)


async def test_only_new_and_sampled_traces_reach_opentelemetrys_interceptor(
    tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    counting = CountingServerSpans(tracing)
    server, address = await start_probe([SampledServerSpans(counting)])
    try:
        await _echo(address, "new")
        await _echo(address, "sampled", SAMPLED)
        await _echo(address, "unsampled", UNSAMPLED)
        await _echo(address, "malformed", (("traceparent", "00-xyz-00"),))
    finally:
        await server.stop(None)
    assert counting.calls == 3
    assert [span.name for span in spans.get_finished_spans()] == [ECHO, ECHO, ECHO]
