"""A small gRPC service for observability tests: unary, server-streaming and client-streaming calls.

`Echo` answers with its input; inputs name a behaviour: `abort:<CODE>` aborts with that code,
`set:<CODE>` sets the code and returns, `raise` raises, `hang` waits until cancelled and
`call:<target>` calls Echo on another probe server first (a downstream hop), and `instrumentation`
answers `enabled` or `suppressed` (OpenTelemetry's instrumentation in the call's context). `Count` streams n
messages, or aborts with FAILED_PRECONDITION after them when n is negative. `Sum` adds a stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import structlog
from google.protobuf import wrappers_pb2
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

SERVICE = "farebox.probe.v1.ProbeService"
ECHO = f"/{SERVICE}/Echo"
COUNT = f"/{SERVICE}/Count"
SUM = f"/{SERVICE}/Sum"


class ProbeServicer:
    """The probe's behaviours; `client_interceptors` are used for the downstream hop."""

    def __init__(self, client_interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        self.client_interceptors = list(client_interceptors)

    async def echo(self, request: wrappers_pb2.StringValue, context: grpc.aio.ServicerContext) -> Any:
        value = request.value
        structlog.get_logger().info("probe_echo", value=value)
        if value.startswith("abort:"):
            await context.abort(grpc.StatusCode[value.removeprefix("abort:")], "probe abort")
        if value.startswith("set:"):
            context.set_code(grpc.StatusCode[value.removeprefix("set:")])
            context.set_details("probe set code")
            return wrappers_pb2.StringValue(value=value)
        if value == "raise":
            raise RuntimeError("probe failure")
        if value == "hang":
            await asyncio.Event().wait()
        if value == "instrumentation":
            return wrappers_pb2.StringValue(value="enabled" if is_instrumentation_enabled() else "suppressed")
        if value.startswith("call:"):
            async with grpc.aio.insecure_channel(
                value.removeprefix("call:"), interceptors=self.client_interceptors
            ) as channel:
                reply = await echo_stub(channel)(wrappers_pb2.StringValue(value="downstream"))
            return wrappers_pb2.StringValue(value=f"via:{reply.value}")
        return wrappers_pb2.StringValue(value=value)

    async def count(
        self, request: wrappers_pb2.Int32Value, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wrappers_pb2.Int32Value]:
        for index in range(abs(request.value)):
            yield wrappers_pb2.Int32Value(value=index)
        if request.value < 0:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "probe stream failure")

    async def sum(
        self, requests: AsyncIterator[wrappers_pb2.Int32Value], context: grpc.aio.ServicerContext
    ) -> wrappers_pb2.Int32Value:
        total = 0
        async for request in requests:
            total += request.value
        return wrappers_pb2.Int32Value(value=total)


def probe_handler(servicer: ProbeServicer) -> grpc.GenericRpcHandler:
    """The generic handler that registers the probe's three methods."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                servicer.echo,
                request_deserializer=wrappers_pb2.StringValue.FromString,
                response_serializer=wrappers_pb2.StringValue.SerializeToString,
            ),
            "Count": grpc.unary_stream_rpc_method_handler(
                servicer.count,
                request_deserializer=wrappers_pb2.Int32Value.FromString,
                response_serializer=wrappers_pb2.Int32Value.SerializeToString,
            ),
            "Sum": grpc.stream_unary_rpc_method_handler(
                servicer.sum,
                request_deserializer=wrappers_pb2.Int32Value.FromString,
                response_serializer=wrappers_pb2.Int32Value.SerializeToString,
            ),
        },
    )


async def start_probe(
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    client_interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> tuple[grpc.aio.Server, str]:
    """A started probe server on a free loopback port, and its address."""
    server = grpc.aio.server(interceptors=list(interceptors))
    server.add_generic_rpc_handlers((probe_handler(ProbeServicer(client_interceptors)),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def echo_stub(channel: grpc.aio.Channel) -> Callable[..., Any]:
    """The Echo method on `channel`."""
    return channel.unary_unary(
        ECHO,
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )


def count_stub(channel: grpc.aio.Channel) -> Callable[..., Any]:
    """The Count method on `channel`."""
    return channel.unary_stream(
        COUNT,
        request_serializer=wrappers_pb2.Int32Value.SerializeToString,
        response_deserializer=wrappers_pb2.Int32Value.FromString,
    )


def sum_stub(channel: grpc.aio.Channel) -> Callable[..., Any]:
    """The Sum method on `channel`."""
    return channel.stream_unary(
        SUM,
        request_serializer=wrappers_pb2.Int32Value.SerializeToString,
        response_deserializer=wrappers_pb2.Int32Value.FromString,
    )
