"""SIGTERM flips health to NOT_SERVING and lets in-flight calls finish before the process exits."""

import asyncio
import signal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.common import slow_server


async def test_sigterm_lets_an_in_flight_call_finish() -> None:
    process, port = await slow_server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert (
            await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        ).status == health_pb2.HealthCheckResponse.SERVING
        wait = channel.unary_unary("/test.Slow/Wait")
        in_flight = asyncio.ensure_future(wait(b"1500", timeout=10))
        await asyncio.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert await in_flight == b"done"
    assert await asyncio.wait_for(process.wait(), 20) == 0


async def test_sigterm_reports_not_serving_while_draining() -> None:
    process, port = await slow_server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service="test.Slow"))
        first = await asyncio.wait_for(watch.read(), 10)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(channel.unary_unary("/test.Slow/Wait")(b"1500", timeout=10))
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        second = await asyncio.wait_for(watch.read(), 5)
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await in_flight
    await asyncio.wait_for(process.wait(), 20)
