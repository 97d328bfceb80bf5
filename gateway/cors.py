"""CORS for the origins listed in settings, and none by default.

A listed origin is echoed back (never `*`, and no credentials mode); a preflight to a routed path
answers with the methods that path serves and the request headers the gateway forwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from gateway.metadata import METADATA_HEADER_PREFIX
from gateway.routes import RouteTable

ALLOWED_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-Id",
    "Grpc-Timeout",
    "traceparent",
    "tracestate",
)
EXPOSED_RESPONSE_HEADERS = ("X-Request-Id", "Retry-After", "WWW-Authenticate", "Allow")
MAX_AGE_SECONDS = 600

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Cors:
    """Answers preflights and adds CORS headers to responses for allowed origins."""

    def __init__(self, origins: Sequence[str], routes: RouteTable) -> None:
        self.origins = frozenset(origins)
        self.routes = routes
        self._allowed_headers = {name.lower() for name in ALLOWED_REQUEST_HEADERS}

    def allowed_origin(self, request: web.Request) -> str | None:
        """The request's Origin when it is on the allow-list."""
        origin = request.headers.get("Origin")
        return origin if origin in self.origins else None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answers a preflight from an allowed origin to a routed path; passes everything else on."""
        origin = self.allowed_origin(request)
        requested_method = request.headers.get("Access-Control-Request-Method")
        if origin is None or request.method != "OPTIONS" or requested_method is None:
            return await handler(request)
        methods = self.routes.allowed_methods(request.rel_url.raw_path)
        if not methods:
            return await handler(request)
        requested = request.headers.get("Access-Control-Request-Headers", "")
        headers = [name.strip() for name in requested.split(",") if self._forwarded(name.strip())]
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": ", ".join(methods),
                "Access-Control-Allow-Headers": ", ".join(headers),
                "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
                "Vary": "Access-Control-Request-Method, Access-Control-Request-Headers",
            },
        )

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Adds Access-Control-Allow-Origin and the exposed headers, also to streamed responses."""
        if not self.origins:
            return
        response.headers.add("Vary", "Origin")
        origin = self.allowed_origin(request)
        if origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_RESPONSE_HEADERS)

    def _forwarded(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self._allowed_headers or (
            lowered.startswith(METADATA_HEADER_PREFIX.lower()) and len(lowered) > len(METADATA_HEADER_PREFIX)
        )
