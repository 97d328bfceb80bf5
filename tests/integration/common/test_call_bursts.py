"""A burst of calls far beyond what the server handles at once is queued, not cancelled."""

import asyncio
import sys
from collections import Counter

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

BURST = 2500
CHANNELS = 10


async def test_a_burst_of_calls_is_answered_in_full() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.common.slow_server",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert process.stderr is not None
    port = int((await asyncio.wait_for(process.stderr.readline(), 20)).decode())
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
