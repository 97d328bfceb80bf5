"""Server streaming over HTTP: newline-delimited JSON, or Server-Sent Events on request.

Mirrors grpc-gateway's runtime/handler.go `ForwardResponseStream`: each message is written and
flushed as `{"result": ...}`; an error before the first message is an ordinary error response, an
error after it ends the stream with `{"error": <google.rpc.Status>}`. With
`Accept: text/event-stream` the same objects are sent as SSE `data:` events, the error as an
`event: error`. A client that goes away cancels the gRPC call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import structlog
from aiohttp import web

from gateway import marshal
from gateway.errors import error_response, status_json, status_of_rpc_error
from gateway.metadata import response_headers
from gateway.routes import Route

log = structlog.get_logger()

NDJSON_CONTENT_TYPE = "application/x-ndjson"
SSE_CONTENT_TYPE = "text/event-stream"


def wants_event_stream(accept: str) -> bool:
    """Whether an Accept header asks for Server-Sent Events."""
    return any(part.split(";", 1)[0].strip().lower() == SSE_CONTENT_TYPE for part in accept.split(","))


def frame(value: Any, *, sse: bool, event: str = "") -> bytes:
    """One stream item: an NDJSON line, or an SSE event."""
    data = marshal.encode(value)
    if not sse:
        return data + b"\n"
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + data + b"\n\n"


async def forward_stream(
    request: web.Request, call: grpc.aio.UnaryStreamCall, route: Route
) -> web.StreamResponse:
    """Writes the call's messages to the client as they arrive; cancels the call if the client leaves."""
    sse = wants_event_stream(request.headers.get("Accept", ""))
    response = web.StreamResponse()
    try:
        try:
            message = await call.read()
        except grpc.aio.AioRpcError as error:
            return error_response(
                status_of_rpc_error(error),
                credentials_sent="Authorization" in request.headers,
                headers=response_headers(error.initial_metadata(), error.trailing_metadata()),
            )
        response.headers.extend(response_headers(await call.initial_metadata(), None))
        response.content_type = SSE_CONTENT_TYPE if sse else NDJSON_CONTENT_TYPE
        response.headers["Cache-Control"] = "no-cache"
        await response.prepare(request)
        try:
            while message is not grpc.aio.EOF:
                result = {"result": marshal.response_value(message, route.response_body)}
                await response.write(frame(result, sse=sse))
                message = await call.read()
        except grpc.aio.AioRpcError as error:
            status = status_of_rpc_error(error)
            log.info("stream_ended_by_error", rpc=route.grpc_path, code=error.code().name)
            await response.write(frame({"error": status_json(status)}, sse=sse, event="error"))
        await response.write_eof()
    except ConnectionResetError:
        log.info("stream_client_gone", rpc=route.grpc_path)
    except asyncio.CancelledError:
        log.info("stream_client_gone", rpc=route.grpc_path)
        raise
    finally:
        call.cancel()
    return response
