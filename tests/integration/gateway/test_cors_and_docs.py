"""CORS from the settings' allow-list only, and the OpenAPI document and docs page being served."""

from __future__ import annotations

import aiohttp

from tests.integration.gateway.conftest import StartGateway
from tests.integration.gateway.fakes import TRIP_ID, FakeBackends

ORIGIN = "https://app.example.com"


async def test_preflight_from_an_allowed_origin(
    backends: FakeBackends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**backends.targets, GATEWAY_CORS_ORIGINS=ORIGIN)
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, grpc-metadata-tenant, x-evil",
    }
    async with http.options(f"{gateway}/v1/bookings", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"
        assert (
            response.headers["Access-Control-Allow-Headers"]
            == "authorization, idempotency-key, grpc-metadata-tenant"
        )
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_responses_to_an_allowed_origin_carry_cors_headers_even_when_streamed(
    backends: FakeBackends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**backends.targets, GATEWAY_CORS_ORIGINS=ORIGIN)
    for path in (f"/v1/trips/{TRIP_ID}", "/v1/trips/nope"):
        async with http.get(f"{gateway}{path}", headers={"Origin": ORIGIN}) as response:
            assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
            assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
            assert response.headers["Vary"] == "Origin"
    response = await http.get(f"{gateway}/v1/trips/{TRIP_ID}/seat-map:watch", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    response.close()


async def test_other_origins_get_no_cors_headers(
    backends: FakeBackends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**backends.targets, GATEWAY_CORS_ORIGINS=ORIGIN)
    evil = {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    async with http.options(f"{gateway}/v1/bookings", headers=evil) as response:
        assert response.status == 405
        assert "Access-Control-Allow-Origin" not in response.headers
    async with http.get(
        f"{gateway}/v1/trips/{TRIP_ID}", headers={"Origin": "https://evil.example.com"}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_no_cors_by_default(gateway: str, http: aiohttp.ClientSession) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    async with http.options(f"{gateway}/v1/trips", headers=headers) as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET, POST")
        assert not any(name.startswith("Access-Control-") for name in response.headers)
        assert "Vary" not in response.headers


async def test_serves_the_openapi_document_and_docs(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/openapi.json") as response:
        spec = await response.json()
    assert spec["openapi"] == "3.1.0"
    operation = spec["paths"]["/v1/bookings/{booking_id}:confirm"]["post"]
    assert operation["description"].startswith("ConfirmBooking pays for a pending booking")
    async with http.get(f"{gateway}/docs") as response:
        assert response.content_type == "text/html"
        assert "ConfirmBooking pays for a pending booking" in await response.text()
