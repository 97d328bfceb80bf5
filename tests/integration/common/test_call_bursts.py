"""A burst of calls far beyond what the server handles at once is queued, not cancelled."""

import asyncio
from collections import Counter

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.common import slow_server

BURST = 2500
CHANNELS = 10


async def test_a_burst_of_calls_is_answered_in_full() -> None:
    process, port = await slow_server.start()
    channels = [
        grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.channel_id", n)])
        for n in range(CHANNELS)
    ]
    try:
        stubs = [health_pb2_grpc.HealthStub(channel) for channel in channels]

        async def check(number: int) -> str:
            try:
                response = await stubs[number % CHANNELS].Check(health_pb2.HealthCheckRequest(), timeout=60)
            except grpc.aio.AioRpcError as error:
                return error.code().name
            return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

        outcomes = Counter(await asyncio.gather(*(check(number) for number in range(BURST))))
    finally:
        for channel in channels:
            await channel.close()
        process.terminate()
        await process.wait()

    assert outcomes == Counter({"SERVING": BURST})
