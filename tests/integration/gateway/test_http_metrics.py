"""Every answer is counted and timed by method, route template and status."""

from __future__ import annotations

import aiohttp
from prometheus_client import REGISTRY

from tests.integration.gateway.fakes import TRIP_ID


def requests_counted(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("gateway_http_requests_total", labels) or 0.0


def requests_timed(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("gateway_http_request_duration_seconds_count", labels) or 0.0


async def test_answers_are_counted_by_route_template_and_status(
    gateway: str, http: aiohttp.ClientSession
) -> None:
    expected = {
        ("GET", "/v1/trips/{trip_id}", "200"): 2,
        ("GET", "/v1/trips/{trip_id}", "404"): 1,
        ("GET", "unmatched", "404"): 1,
        ("other", "unmatched", "404"): 1,
        ("GET", "/healthz", "200"): 1,
        ("POST", "/healthz", "405"): 1,
    }
    before = {labels: requests_counted(*labels) for labels in expected}
    timed_before = requests_timed("GET", "/v1/trips/{trip_id}")
    for path in (f"/v1/trips/{TRIP_ID}", f"/v1/trips/{TRIP_ID}", "/v1/trips/nope", "/nowhere/at/all"):
        async with http.get(f"{gateway}{path}") as response:
            await response.read()
    async with http.request("TRACE", f"{gateway}/pot") as response:
        assert response.status == 404
    async with http.get(f"{gateway}/healthz") as response:
        assert response.status == 200
    async with http.post(f"{gateway}/healthz") as response:
        assert response.status == 405
    assert {labels: requests_counted(*labels) - before[labels] for labels in expected} == expected
    assert requests_timed("GET", "/v1/trips/{trip_id}") - timed_before == 3
