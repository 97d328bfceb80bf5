"""Refusals and backend errors over HTTP: status, google.rpc.Status body, and derived headers."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.gateway.conftest import StartGateway
from tests.integration.gateway.fakes import DECLINED_TOKEN, SLOW_BOOKING_ID, TOKEN, TRIP_ID, FakeBackends

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def reason_of(body: dict[str, Any]) -> str:
    return next(d["reason"] for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo"))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "reason"),
    [
        ("GET", "/v1/trips/nope", {}, 404, 5, "NOT_FOUND"),
        ("GET", "/v2/trips", {}, 404, 5, "ROUTE_NOT_FOUND"),
        ("GET", "/v1/bookings/b1:confirm", {}, 405, 12, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/v1/trips", {}, 405, 12, "METHOD_NOT_ALLOWED"),
        ("POST", "/v1/bookings", {"json": {"tripId": TRIP_ID}}, 401, 16, "UNAUTHENTICATED"),
        (
            "POST",
            "/v1/bookings",
            {"data": b"{", "headers": {**AUTH, "Content-Type": "application/json"}},
            400,
            3,
            "MALFORMED_JSON",
        ),
        (
            "POST",
            "/v1/bookings",
            {"data": b"[]", "headers": {**AUTH, "Content-Type": "application/json"}},
            400,
            3,
            "MALFORMED_JSON",
        ),
        (
            "POST",
            "/v1/bookings",
            {"json": {"seatNumbers": "1A"}, "headers": AUTH},
            400,
            3,
            "INVALID_ARGUMENT",
        ),
        ("POST", "/v1/bookings", {"data": "tripId=x", "headers": AUTH}, 415, 3, "UNSUPPORTED_MEDIA_TYPE"),
        ("GET", "/v1/trips?pageSize=many", {}, 400, 3, "INVALID_PARAMETER"),
        ("GET", "/v1/trips", {"headers": {"Grpc-Timeout": "soon"}}, 400, 3, "INVALID_TIMEOUT"),
        (
            "GET",
            f"/v1/bookings/{SLOW_BOOKING_ID}",
            {"headers": {**AUTH, "Grpc-Timeout": "200m"}},
            504,
            4,
            None,
        ),
        ("GET", "/v1/trips", {"headers": {"Grpc-Metadata-X-Fake-Rate-Limit": "1"}}, 429, 8, "RATE_LIMITED"),
        (
            "GET",
            "/v1/trips",
            {"headers": {"Grpc-Metadata-X-Fake-Unavailable": "1"}},
            503,
            14,
            "STORE_UNAVAILABLE",
        ),
        ("POST", "/v1/bookings/nope:confirm", {"json": {}, "headers": AUTH}, 404, 5, "NOT_FOUND"),
    ],
)
async def test_errors_are_statuses(
    gateway: str,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: int,
    reason: str | None,
) -> None:
    async with http.request(method, f"{gateway}{path}", **kwargs) as response:
        body = await response.json()
        assert response.status == status, body
        assert response.content_type == "application/json"
        assert response.headers["X-Request-Id"]
    assert body["code"] == code
    assert isinstance(body["message"], str)
    if reason is not None:
        assert reason_of(body) == reason


async def test_method_not_allowed_lists_the_allowed_methods(
    gateway: str, http: aiohttp.ClientSession
) -> None:
    async with http.put(f"{gateway}/v1/trips") as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET, POST")
    async with http.post(f"{gateway}/healthz") as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET, HEAD")
        assert (await response.json())["code"] == 12


async def test_seat_unavailable_keeps_its_details(gateway: str, http: aiohttp.ClientSession) -> None:
    body = {"tripId": TRIP_ID, "seatNumbers": ["1A"]}
    async with http.post(f"{gateway}/v1/bookings", json=body, headers=AUTH) as response:
        assert response.status == 200
    async with http.post(f"{gateway}/v1/bookings", json=body, headers=AUTH) as response:
        assert response.status == 409
        error = await response.json()
    info = error["details"][0]
    assert (error["code"], info["reason"], info["metadata"]) == (10, "SEAT_UNAVAILABLE", {"seats": "1A"})


async def test_rate_limit_sets_retry_after(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/v1/trips", headers={"Grpc-Metadata-X-Fake-Rate-Limit": "1"}) as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "3")


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="farebox"'),
        ({"Authorization": ""}, 'Bearer realm="farebox", error="invalid_token"'),
        ({"Authorization": "Bearer forged"}, 'Bearer realm="farebox", error="invalid_token"'),
    ],
)
async def test_unauthenticated_is_401_with_a_challenge(
    gateway: str, http: aiohttp.ClientSession, headers: dict[str, str], challenge: str
) -> None:
    async with http.get(f"{gateway}/v1/bookings", headers=headers) as response:
        assert (response.status, response.headers["WWW-Authenticate"]) == (401, challenge)


async def test_declined_payment_is_failed_precondition(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{gateway}/v1/bookings", json={"tripId": TRIP_ID, "seatNumbers": ["2A"]}, headers=AUTH
    ) as r:
        booking_id = (await r.json())["booking"]["bookingId"]
    url = f"{gateway}/v1/bookings/{booking_id}:confirm"
    async with http.post(url, json={"paymentToken": DECLINED_TOKEN}, headers=AUTH) as response:
        body = await response.json()
    assert (response.status, body["code"], reason_of(body)) == (400, 9, "CARD_DECLINED")


async def test_a_body_over_the_limit_is_413(
    backends: FakeBackends, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(**backends.targets, GATEWAY_MAX_BODY_BYTES="64")
    small = {"tripId": TRIP_ID}
    large = {"tripId": TRIP_ID, "passengers": [{"fullName": "x" * 100}]}
    async with http.post(f"{gateway}/v1/bookings", json=small, headers=AUTH) as response:
        assert response.status == 200
    async with http.post(f"{gateway}/v1/bookings", json=large, headers=AUTH) as response:
        body = await response.json()
        assert response.status == 413
    assert reason_of(body) == "BODY_TOO_LARGE"
    assert backends.inventory.bookings.keys() == {next(iter(backends.inventory.bookings))}


async def test_bad_query_values_name_the_field(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/v1/trips", params={"departureAfter": "yesterday"}) as response:
        body = await response.json()
    violations = next(d for d in body["details"] if d["@type"].endswith("BadRequest"))["fieldViolations"]
    assert [v["field"] for v in violations] == ["departureAfter"]
