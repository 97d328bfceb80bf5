"""Several seat-service workers in one process group: they share the ports and one /metrics endpoint."""

from __future__ import annotations

import asyncio
import urllib.request

import grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1.seat_inventory_service_pb2_grpc import SeatInventoryServiceStub
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.seat.conftest import free_port
from tests.e2e.seat.test_processes import Start
from tests.integration.seat.support import create_trip
from tests.support.platform import DevCredentials

CALLS_PER_CONNECTION = 5
CONNECTIONS = 8


def handled(metrics_port: int, method: str) -> float:
    """grpc_server_handled_total of `method` with code OK, summed over every worker."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
        and sample.labels.get("grpc_method") == method
        and sample.labels.get("grpc_code") == "OK"
    )


async def test_two_workers_share_the_port_and_their_metrics_add_up(
    start_seat_process: Start, dev_credentials: DevCredentials
) -> None:
    metrics_port = free_port()
    seat = await start_seat_process(workers=2, metrics_port=metrics_port)
    assert sum(event.get("event") == "server_started" for event in seat.log) == 2
    trip = await create_trip(seat.admin)

    credentials = dev_credentials.channel_credentials("booking")
    request = api.GetSeatMapRequest(trip_id=trip.trip_id, from_stop="A", to_stop="D")
    for _ in range(CONNECTIONS):  # a connection each: the kernel spreads them over the workers
        async with grpc.aio.secure_channel(f"localhost:{seat.internal_port}", credentials) as channel:
            stub = SeatInventoryServiceStub(channel)
            for _ in range(CALLS_PER_CONNECTION):
                assert (await stub.GetSeatMap(request)).seat_map.trip_id == trip.trip_id

    expected = CONNECTIONS * CALLS_PER_CONNECTION
    for _ in range(50):
        if handled(metrics_port, "GetSeatMap") == expected:
            break
        await asyncio.sleep(0.1)
    assert handled(metrics_port, "GetSeatMap") == expected
