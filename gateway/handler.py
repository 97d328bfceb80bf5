"""Serves one routed request: map it to the RPC's request, call the backend, write the answer.

Mirrors grpc-gateway's runtime/handler.go `ForwardResponseMessage`: header metadata becomes
Grpc-Metadata-* headers, the response (or its `response_body` field) is the JSON body, and a
backend error is written by the error handler with the backend's status and details. Server
streaming is handed to `gateway.streaming`.
"""

from __future__ import annotations

import grpc
import structlog
from aiohttp import web

from gateway import marshal
from gateway.backends import Backends
from gateway.errors import GatewayError, error_response, http_status, status_of_rpc_error
from gateway.http_metrics import ROUTE_LABEL
from gateway.metadata import IDEMPOTENCY_KEY_HEADER, call_context, fill_request_id, response_headers
from gateway.request_mapping import build_request
from gateway.routes import RouteTable
from gateway.streaming import forward_stream

log = structlog.get_logger()


async def serve_rpc(
    request: web.Request, routes: RouteTable, backends: Backends, *, request_id: str, default_timeout: float
) -> web.StreamResponse:
    """The HTTP response for a request to an annotated RPC; refusals are raised as Farebox errors."""
    match = routes.match(request.method, request.rel_url.raw_path)
    route = match.route
    request[ROUTE_LABEL] = route.template.template
    context = call_context(
        request.headers,
        peer=request.remote,
        request_id=request_id,
        default_timeout=None if route.server_streaming else default_timeout,
    )
    body = await read_body(request) if route.body else b""
    message = build_request(
        route, match.path_params, request.query.items(), body, request.headers.get("Content-Type")
    )
    fill_request_id(message, request.headers.get(IDEMPOTENCY_KEY_HEADER))
    if route.server_streaming:
        call = backends.stream(route)(message, timeout=context.timeout, metadata=context.metadata)
        return await forward_stream(request, call, route)
    unary = backends.unary(route)(message, timeout=context.timeout, metadata=context.metadata)
    try:
        response = await unary
    except grpc.aio.AioRpcError as error:
        if http_status(error.code()) >= 500:
            log.warning("backend_error", rpc=route.grpc_path, code=error.code().name, detail=error.details())
        return error_response(
            status_of_rpc_error(error),
            credentials_sent=context.credentials_sent,
            headers=response_headers(error.initial_metadata(), error.trailing_metadata()),
        )
    return web.Response(
        body=marshal.encode(marshal.response_value(response, route.response_body)),
        content_type=marshal.JSON_CONTENT_TYPE,
        headers=response_headers(await unary.initial_metadata(), await unary.trailing_metadata()),
    )


async def read_body(request: web.Request) -> bytes:
    """The whole request body; one over the app's client_max_size is 413."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise GatewayError(
            413,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request body is larger than {request.client_max_size} bytes",
            reason="BODY_TOO_LARGE",
        ) from None
