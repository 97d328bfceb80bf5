"""Header translation end to end: the allow-list reaches the backend, its metadata comes back."""

from __future__ import annotations

import aiohttp

from tests.integration.gateway.fakes import TRIP_ID


async def test_allow_listed_headers_reach_the_backend_and_metadata_comes_back(
    gateway: str, http: aiohttp.ClientSession
) -> None:
    headers = {
        "Authorization": "Bearer t",
        "X-Request-Id": "req-42",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=1",
        "Grpc-Metadata-Tenant": "acme",
        "X-Forwarded-For": "203.0.113.9",
        "Cookie": "session=secret",
        "X-Other": "dropped",
    }
    async with http.get(f"{gateway}/v1/trips/{TRIP_ID}", headers=headers) as response:
        assert response.status == 200
        echoed = {
            k.lower(): v for k, v in response.headers.items() if k.lower().startswith("grpc-metadata-echo-")
        }
        assert response.headers["X-Request-Id"] == "req-42"
        assert response.headers["Grpc-Trailer-x-served-by"] == "fake"
    assert echoed == {
        "grpc-metadata-echo-authorization": "Bearer t",
        "grpc-metadata-echo-x-request-id": "req-42",
        "grpc-metadata-echo-traceparent": headers["traceparent"],
        "grpc-metadata-echo-tracestate": "vendor=1",
        "grpc-metadata-echo-tenant": "acme",
        "grpc-metadata-echo-x-forwarded-for": "203.0.113.9, 127.0.0.1",
    }


async def test_a_generated_request_id_is_sent_and_echoed(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/v1/trips/{TRIP_ID}") as response:
        request_id = response.headers["X-Request-Id"]
        assert response.headers["Grpc-Metadata-echo-x-request-id"] == request_id
        assert response.headers["Grpc-Metadata-echo-x-forwarded-for"] == "127.0.0.1"
    async with http.get(f"{gateway}/v1/trips/{TRIP_ID}") as response:
        assert response.headers["X-Request-Id"] != request_id


async def test_error_responses_carry_the_request_id(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway}/nowhere", headers={"X-Request-Id": "req-7"}) as response:
        assert (response.status, response.headers["X-Request-Id"]) == (404, "req-7")
