"""A backend that is down is 503 at once, never a hang or a 500; /healthz and /readyz report; a
renewed client certificate is taken up by new calls."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from pathlib import Path

import aiohttp
import farebox
from farebox.seat.v1 import seat_inventory_service_pb2
from grpc_health.v1 import health_pb2

from common.security_settings import TlsSettings
from common.settings import Env
from gateway.backends import Backends
from gateway.routes import build_routes, import_services
from tests.integration.gateway.conftest import StartGateway
from tests.integration.gateway.fakes import TOKEN, TRIP_ID, FakeBackends
from tests.support.platform import DevCredentials

SEAT_SERVICE = seat_inventory_service_pb2.DESCRIPTOR.services_by_name["SeatInventoryService"].full_name
# Far above what a refused connection takes, so a 503 shows the call failed fast instead of timing out.
PATIENT = {"GATEWAY_DEFAULT_TIMEOUT": "60s"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_backend_that_is_down_is_503(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    down = f"127.0.0.1:{closed_port()}"
    gateway = await start_gateway(SEAT_TARGET=down, BOOKING_TARGET=down, **PATIENT)
    for _ in range(3):
        response = await asyncio.wait_for(http.get(f"{gateway}/v1/trips/{TRIP_ID}"), 10)
        body = await response.json()
        assert (response.status, body["code"]) == (503, 14)
        assert down not in body["message"]


async def test_a_backend_that_goes_away_is_503(
    backends: FakeBackends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**backends.targets, **PATIENT)
    async with http.get(f"{gateway}/v1/trips/{TRIP_ID}") as response:
        assert response.status == 200
    await backends.seat.stop(timedelta(0))
    response = await asyncio.wait_for(http.get(f"{gateway}/v1/trips/{TRIP_ID}"), 10)
    assert response.status == 503
    async with http.get(f"{gateway}/v1/bookings", headers={"Authorization": f"Bearer {TOKEN}"}) as other:
        assert other.status == 200


async def test_healthz_is_the_process_and_readyz_the_backends(
    backends: FakeBackends, gateway: str, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway}/healthz") as response:
        assert (response.status, await response.json()) == (200, {"status": "SERVING"})
    async with http.get(f"{gateway}/readyz") as response:
        assert response.status == 200
        assert await response.json() == {
            "status": "SERVING",
            "services": {"farebox.booking.v1.BookingService": "SERVING", SEAT_SERVICE: "SERVING"},
        }
    await backends.seat.health.set(SEAT_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    async with http.get(f"{gateway}/readyz") as response:
        assert response.status == 503
        assert (await response.json())["services"][SEAT_SERVICE] == "NOT_SERVING"
    async with http.get(f"{gateway}/healthz") as response:
        assert response.status == 200


async def test_readyz_fails_when_a_backend_is_unreachable(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    down = f"127.0.0.1:{closed_port()}"
    gateway = await start_gateway(SEAT_TARGET=down, BOOKING_TARGET=down)
    async with http.get(f"{gateway}/readyz") as response:
        assert response.status == 503
        assert set((await response.json())["services"].values()) == {"UNAVAILABLE"}


async def test_calls_move_to_a_new_channel_when_the_certificate_is_renewed(tmp_path: Path) -> None:
    credentials = DevCredentials.create(tmp_path)
    tls = TlsSettings.from_env(Env(credentials.service_env("gateway")))
    route = next(route for route in build_routes(import_services(farebox)).routes if route.body == "*")
    backends = Backends(
        {"seat": "localhost:1", "booking": "localhost:2"}, [route.service], tls=tls, default_timeout=1
    )
    try:
        first = backends.unary(route)
        assert backends.unary(route) is first
        renewed = tls.cert
        assert renewed is not None
        stat = renewed.stat()
        os.utime(renewed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert backends.unary(route) is not first
    finally:
        await backends.close()
