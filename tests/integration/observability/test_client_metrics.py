"""The aio client interceptor records the grpc_client_* series for real calls to a probe server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import wrappers_pb2

from common.channels import create_channel
from common.client_metrics import client_metrics_interceptors
from tests.integration.observability.probe_service import SERVICE, count_stub, echo_stub, start_probe
from tests.integration.observability.samples import sample

UNARY = {"grpc_type": "UNARY", "grpc_service": SERVICE, "grpc_method": "Echo"}
STREAM = {"grpc_type": "SERVER_STREAMING", "grpc_service": SERVICE, "grpc_method": "Count"}


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server, address = await start_probe()
    channel = create_channel(address, interceptors=client_metrics_interceptors())
    yield channel
    await channel.close()
    await server.stop(None)


def snapshot(labels: dict[str, str], code: str) -> dict[str, float]:
    return {
        "started": sample("grpc_client_started_total", **labels),
        "handled": sample("grpc_client_handled_total", **labels, grpc_code=code),
        "sent": sample("grpc_client_msg_sent_total", **labels),
        "received": sample("grpc_client_msg_received_total", **labels),
        "observed": sample("grpc_client_handling_seconds_count", **labels),
    }


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


async def test_unary_ok(channel: grpc.aio.Channel) -> None:
    before = snapshot(UNARY, "OK")
    call = echo_stub(channel)(wrappers_pb2.StringValue(value="hi"))
    assert (await call).value == "hi"
    assert await call.code() == grpc.StatusCode.OK
    assert delta(before, snapshot(UNARY, "OK")) == {
        "started": 1,
        "handled": 1,
        "sent": 1,
        "received": 1,
        "observed": 1,
    }


async def test_unary_error_keeps_its_code_and_details_for_the_caller(channel: grpc.aio.Channel) -> None:
    before = snapshot(UNARY, "PERMISSION_DENIED")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await echo_stub(channel)(wrappers_pb2.StringValue(value="abort:PERMISSION_DENIED"))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert raised.value.details() == "probe abort"
    assert delta(before, snapshot(UNARY, "PERMISSION_DENIED")) == {
        "started": 1,
        "handled": 1,
        "sent": 1,
        "received": 0,
        "observed": 1,
    }


async def test_deadline_exceeded_on_the_client(channel: grpc.aio.Channel) -> None:
    before = snapshot(UNARY, "DEADLINE_EXCEEDED")
    with pytest.raises(grpc.aio.AioRpcError):
        await echo_stub(channel)(wrappers_pb2.StringValue(value="hang"), timeout=0.2)
    assert delta(before, snapshot(UNARY, "DEADLINE_EXCEEDED"))["handled"] == 1


async def test_server_streaming_counts_each_message_received(channel: grpc.aio.Channel) -> None:
    before = snapshot(STREAM, "OK")
    replies = [reply.value async for reply in count_stub(channel)(wrappers_pb2.Int32Value(value=3))]
    assert replies == [0, 1, 2]
    assert delta(before, snapshot(STREAM, "OK")) == {
        "started": 1,
        "handled": 1,
        "sent": 1,
        "received": 3,
        "observed": 1,
    }


async def test_server_streaming_failure(channel: grpc.aio.Channel) -> None:
    before = snapshot(STREAM, "FAILED_PRECONDITION")
    call = count_stub(channel)(wrappers_pb2.Int32Value(value=-1))
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in call:
            pass
    assert await call.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert delta(before, snapshot(STREAM, "FAILED_PRECONDITION")) == {
        "started": 1,
        "handled": 1,
        "sent": 1,
        "received": 1,
        "observed": 1,
    }


async def test_cancelled_stream_is_handled_as_cancelled(channel: grpc.aio.Channel) -> None:
    before = snapshot(STREAM, "CANCELLED")
    call = count_stub(channel)(wrappers_pb2.Int32Value(value=1000))
    async for reply in call:
        assert reply.value == 0
        break
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        async for _ in call:
            pass
    assert delta(before, snapshot(STREAM, "CANCELLED"))["handled"] == 1
