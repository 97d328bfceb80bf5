"""One trace across client -> server -> downstream server, driver spans in it, and logs pointing at it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import psycopg
import pytest
from google.protobuf import wrappers_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from common.logs import configure_logging
from common.server import ServiceHost
from common.tracing import Tracing
from tests.integration.observability.probe_service import (
    ECHO,
    SERVICE,
    ProbeServicer,
    echo_stub,
    probe_handler,
    start_probe,
)


@dataclass
class Chain:
    """A middle probe server that calls a downstream one, both traced."""

    middle: str
    downstream: str


@pytest.fixture
async def chain(tracing: Tracing) -> AsyncIterator[Chain]:
    downstream, downstream_address = await start_probe(tracing.server_interceptors())
    middle, middle_address = await start_probe(tracing.server_interceptors(), tracing.client_interceptors())
    yield Chain(middle=middle_address, downstream=downstream_address)
    await middle.stop(None)
    await downstream.stop(None)


def by_kind(finished: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return sorted((span for span in finished if span.kind is kind), key=lambda span: span.start_time or 0)


async def test_one_trace_id_spans_the_whole_chain(
    chain: Chain, tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("test")
    async with grpc.aio.insecure_channel(chain.middle, interceptors=tracing.client_interceptors()) as channel:
        with tracer.start_as_current_span("booking") as root:
            reply = await echo_stub(channel)(wrappers_pb2.StringValue(value=f"call:{chain.downstream}"))
    assert reply.value == "via:downstream"

    finished = spans.get_finished_spans()
    trace_id = root.get_span_context().trace_id
    assert {span.context.trace_id for span in finished} == {trace_id}
    clients = by_kind(finished, SpanKind.CLIENT)
    servers = by_kind(finished, SpanKind.SERVER)
    assert [span.name for span in clients] == [ECHO, ECHO]
    assert [span.name for span in servers] == [ECHO, ECHO]
    # Each hop's parent is the span that made the call.
    assert clients[0].parent is not None and clients[0].parent.span_id == root.get_span_context().span_id
    assert servers[0].parent is not None and servers[0].parent.span_id == clients[0].context.span_id
    assert clients[1].parent is not None and clients[1].parent.span_id == servers[0].context.span_id
    assert servers[1].parent is not None and servers[1].parent.span_id == clients[1].context.span_id


async def test_an_incoming_traceparent_is_continued(chain: Chain, spans: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    async with grpc.aio.insecure_channel(chain.middle) as channel:
        await echo_stub(channel)(
            wrappers_pb2.StringValue(value=f"call:{chain.downstream}"),
            metadata=(("traceparent", f"00-{trace_id}-{parent_id}-01"),),
        )
    finished = spans.get_finished_spans()
    assert len(finished) == 3  # middle server, its client call, downstream server
    assert {format(span.context.trace_id, "032x") for span in finished} == {trace_id}
    middle_server = by_kind(finished, SpanKind.SERVER)[0]
    assert middle_server.parent is not None and format(middle_server.parent.span_id, "016x") == parent_id


async def test_errors_mark_the_server_span(chain: Chain, spans: InMemorySpanExporter) -> None:
    async with grpc.aio.insecure_channel(chain.downstream) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await echo_stub(channel)(wrappers_pb2.StringValue(value="abort:UNAVAILABLE"))
    (server,) = spans.get_finished_spans()
    assert server.status.status_code is trace.StatusCode.ERROR
    assert (
        server.attributes is not None
        and server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    )


async def test_logs_carry_the_trace_and_span_of_their_call(
    chain: Chain,
    tracing: Tracing,
    spans: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    configure_logging("info", service="probe")
    async with grpc.aio.insecure_channel(chain.middle, interceptors=tracing.client_interceptors()) as channel:
        await echo_stub(channel)(wrappers_pb2.StringValue(value=f"call:{chain.downstream}"))

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    echoes = [line for line in lines if line["event"] == "probe_echo"]
    servers = by_kind(spans.get_finished_spans(), SpanKind.SERVER)
    assert [(line["trace_id"], line["span_id"]) for line in echoes] == [
        (format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")) for span in servers
    ]
    assert all(line["trace_sampled"] is True for line in echoes)


async def test_health_checks_and_reflection_are_not_traced(
    tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    host = ServiceHost.create([SERVICE], interceptors=tracing.server_interceptors())
    host.server.add_generic_rpc_handlers((probe_handler(ProbeServicer()),))
    port = await host.start("127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            await echo_stub(channel)(wrappers_pb2.StringValue(value="traced"))
    finally:
        await host.server.stop(None)
    assert [span.name for span in spans.get_finished_spans()] == [ECHO]


async def test_postgres_and_redis_calls_are_spans_of_the_trace(
    tracing: Tracing, spans: InMemorySpanExporter, database_url: str, redis_url: str
) -> None:
    tracer = trace.get_tracer("test")
    redis = Redis.from_url(redis_url)
    try:
        with tracer.start_as_current_span("hold_seats") as root:
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                await conn.execute("SELECT 1")
            await redis.ping()
    finally:
        await redis.aclose()
    finished = spans.get_finished_spans()
    by_system = {
        span.attributes["db.system"]: span
        for span in finished
        if span.attributes is not None and "db.system" in span.attributes
    }
    assert set(by_system) == {"postgresql", "redis"}
    for span in by_system.values():
        assert span.context.trace_id == root.get_span_context().trace_id
        assert span.parent is not None and span.parent.span_id == root.get_span_context().span_id
