"""The aio server interceptor records py-grpc-prometheus's series for real calls to a probe server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import wrappers_pb2
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from common.interceptors.chain import standard_interceptors
from common.interceptors.metrics import ServerMetricsInterceptor
from common.tracing import Tracing
from tests.integration.observability.probe_service import (
    SERVICE,
    count_stub,
    echo_stub,
    start_probe,
    sum_stub,
)
from tests.integration.observability.samples import sample, wait_for_sample

UNARY = {"grpc_type": "UNARY", "grpc_service": SERVICE, "grpc_method": "Echo"}
STREAM = {"grpc_type": "SERVER_STREAMING", "grpc_service": SERVICE, "grpc_method": "Count"}
CLIENT_STREAM = {"grpc_type": "CLIENT_STREAMING", "grpc_service": SERVICE, "grpc_method": "Sum"}


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server, address = await start_probe([ServerMetricsInterceptor()])
    async with grpc.aio.insecure_channel(address) as channel:
        yield channel
    await server.stop(None)


def snapshot(labels: dict[str, str], code: str) -> dict[str, float]:
    return {
        "started": sample("grpc_server_started_total", **labels),
        "handled": sample("grpc_server_handled_total", **labels, grpc_code=code),
        "received": sample("grpc_server_msg_received_total", **labels),
        "sent": sample("grpc_server_msg_sent_total", **labels),
        "observed": sample("grpc_server_handling_seconds_count", **labels),
    }


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


async def test_unary_ok_counts_one_of_everything(channel: grpc.aio.Channel) -> None:
    before = snapshot(UNARY, "OK")
    for _ in range(3):
        assert (await echo_stub(channel)(wrappers_pb2.StringValue(value="hi"))).value == "hi"
    assert delta(before, snapshot(UNARY, "OK")) == {
        "started": 3,
        "handled": 3,
        "received": 3,
        "sent": 3,
        "observed": 3,
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abort:NOT_FOUND", "NOT_FOUND"),
        ("abort:RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"),
        ("set:ABORTED", "ABORTED"),
        ("raise", "UNKNOWN"),
    ],
)
async def test_unary_errors_are_handled_with_their_code_and_send_nothing(
    channel: grpc.aio.Channel, value: str, code: str
) -> None:
    before = snapshot(UNARY, code)
    ok_before = sample("grpc_server_handled_total", **UNARY, grpc_code="OK")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await echo_stub(channel)(wrappers_pb2.StringValue(value=value))
    assert raised.value.code().name == code
    assert delta(before, snapshot(UNARY, code)) == {
        "started": 1,
        "handled": 1,
        "received": 1,
        "sent": 0,
        "observed": 1,
    }
    assert sample("grpc_server_handled_total", **UNARY, grpc_code="OK") == ok_before


async def test_deadline_exceeded_on_the_server_is_recorded_as_such(channel: grpc.aio.Channel) -> None:
    before = sample("grpc_server_handled_total", **UNARY, grpc_code="DEADLINE_EXCEEDED")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await echo_stub(channel)(wrappers_pb2.StringValue(value="hang"), timeout=0.2)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    after = await wait_for_sample(
        "grpc_server_handled_total", before + 1, **UNARY, grpc_code="DEADLINE_EXCEEDED"
    )
    assert after == before + 1


async def test_server_streaming_counts_each_message_sent(channel: grpc.aio.Channel) -> None:
    before = snapshot(STREAM, "OK")
    replies = [reply.value async for reply in count_stub(channel)(wrappers_pb2.Int32Value(value=4))]
    assert replies == [0, 1, 2, 3]
    assert delta(before, snapshot(STREAM, "OK")) == {
        "started": 1,
        "handled": 1,
        "received": 1,
        "sent": 4,
        "observed": 1,
    }


async def test_server_streaming_failure_after_messages_keeps_them_and_its_code(
    channel: grpc.aio.Channel,
) -> None:
    before = snapshot(STREAM, "FAILED_PRECONDITION")
    call = count_stub(channel)(wrappers_pb2.Int32Value(value=-2))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for reply in call:
            received.append(reply.value)
    assert received == [0, 1]
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert delta(before, snapshot(STREAM, "FAILED_PRECONDITION")) == {
        "started": 1,
        "handled": 1,
        "received": 1,
        "sent": 2,
        "observed": 1,
    }


async def test_client_streaming_counts_each_message_received(channel: grpc.aio.Channel) -> None:
    before = snapshot(CLIENT_STREAM, "OK")

    async def numbers() -> AsyncIterator[wrappers_pb2.Int32Value]:
        for value in (1, 2, 3, 4, 5):
            yield wrappers_pb2.Int32Value(value=value)

    assert (await sum_stub(channel)(numbers())).value == 15
    assert delta(before, snapshot(CLIENT_STREAM, "OK")) == {
        "started": 1,
        "handled": 1,
        "received": 5,
        "sent": 1,
        "observed": 1,
    }


async def test_histogram_uses_py_grpc_prometheus_buckets(channel: grpc.aio.Channel) -> None:
    await echo_stub(channel)(wrappers_pb2.StringValue(value="bucket"))
    bounds = {
        sample_.labels["le"]
        for family in REGISTRY.collect()
        if family.name == "grpc_server_handling_seconds"
        for sample_ in family.samples
        if sample_.name.endswith("_bucket") and all(sample_.labels.get(k) == v for k, v in UNARY.items())
    }
    assert bounds == {
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
        "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf",
    }  # fmt: skip


async def test_the_service_chain_records_what_inner_interceptors_decide(
    tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    interceptors = [ServerMetricsInterceptor(), *tracing.server_interceptors(), *standard_interceptors()]
    server, address = await start_probe(interceptors)
    before = sample("grpc_server_handled_total", **UNARY, grpc_code="PERMISSION_DENIED")
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await echo_stub(channel)(wrappers_pb2.StringValue(value="hi"))
    finally:
        await server.stop(None)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED  # the probe declares no policy
    assert sample("grpc_server_handled_total", **UNARY, grpc_code="PERMISSION_DENIED") == before + 1
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
