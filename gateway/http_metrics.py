"""HTTP request metrics: what each route answered and how long it took.

`gateway_http_requests_total{method, route, status}` and
`gateway_http_request_duration_seconds{method, route}` (prometheus-client's default buckets).
`route` is the path template of the matched rule (`/v1/bookings/{booking_id}:confirm`), one of the
gateway's own endpoints, or `unmatched`; `method` is a standard HTTP method or `other`. So label
values stay few whatever paths and methods callers send. A request the client abandons is counted
with status 499. The series are registered on first use, after a multi-worker parent has set the
multiprocess directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from aiohttp import web
from prometheus_client import Counter, Histogram

from gateway.cors import Handler

ROUTE_LABEL = web.RequestKey("route_label", str)
UNMATCHED = "unmatched"
CLIENT_CLOSED_REQUEST = 499
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class HttpMetrics:
    """The gateway's HTTP series."""

    requests: Counter
    duration: Histogram


@cache
def http_metrics() -> HttpMetrics:
    """The HTTP series, registered on the default registry on first use."""
    return HttpMetrics(
        requests=Counter(
            "gateway_http_requests_total",
            "HTTP requests answered by the gateway, by method, route template and status.",
            ("method", "route", "status"),
        ),
        duration=Histogram(
            "gateway_http_request_duration_seconds",
            "Time from receiving an HTTP request to the end of its response, streams included.",
            ("method", "route"),
        ),
    )


@web.middleware
async def record_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts and times every request; list it first so it sees every response, errors included."""
    started_at = time.perf_counter()
    status = CLIENT_CLOSED_REQUEST
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        metrics = http_metrics()
        method = request.method if request.method in _METHODS else "other"
        route = request.get(ROUTE_LABEL, UNMATCHED)
        metrics.requests.labels(method, route, str(status)).inc()
        metrics.duration.labels(method, route).observe(time.perf_counter() - started_at)
