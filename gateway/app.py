"""The aiohttp application: one dispatcher for the gateway's own endpoints (/healthz, /readyz,
/openapi.json, /docs) and every annotated RPC, and one error middleware that writes every refusal
and failure as a google.rpc.Status body."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import structlog
from aiohttp import web
from google.rpc import status_pb2

from common.errors import FareboxError
from gateway.backends import Backends
from gateway.cors import Cors, Handler
from gateway.errors import GatewayError, error_response, status_of_error
from gateway.handler import serve_rpc
from gateway.http_metrics import ROUTE_LABEL, record_request
from gateway.metadata import REQUEST_ID_HEADER, request_id_of
from gateway.routes import RouteTable
from gateway.settings import GatewaySettings

log = structlog.get_logger()

READINESS_TIMEOUT_SECONDS = 1.0


@dataclass
class Gateway:
    """What the handlers share: settings, routes, backend channels and the rendered docs."""

    settings: GatewaySettings
    routes: RouteTable
    backends: Backends
    openapi_json: bytes
    docs_html: str
    draining: bool = False


GATEWAY = web.AppKey("gateway", Gateway)
REQUEST_ID = web.RequestKey("request_id", str)


def create_app(gateway: Gateway) -> web.Application:
    """The application serving `gateway`."""
    cors = Cors(gateway.settings.cors_origins, gateway.routes)
    app = web.Application(
        client_max_size=gateway.settings.max_body_bytes,
        middlewares=[record_request, _errors, cors.middleware],
    )
    app[GATEWAY] = gateway
    app.on_response_prepare.append(_echo_request_id)
    app.on_response_prepare.append(cors.on_response_prepare)
    app.router.add_route("*", r"/{path:[\s\S]*}", _dispatch)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Binds the request id, and turns every refusal or failure into a google.rpc.Status response."""
    request[REQUEST_ID] = request_id_of(request.headers)
    structlog.contextvars.bind_contextvars(request_id=request[REQUEST_ID])
    credentials_sent = "Authorization" in request.headers
    try:
        return await handler(request)
    except GatewayError as error:
        return error_response(
            status_of_error(error), http_status_override=error.http_status, headers=error.headers
        )
    except FareboxError as error:
        return error_response(status_of_error(error), credentials_sent=credentials_sent)
    except Exception:
        log.exception("http_internal_error", method=request.method, path=request.path)
        status = status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")
        return error_response(status)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


async def _dispatch(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    own = _OWN_ENDPOINTS.get(request.rel_url.raw_path)
    if own is not None:
        request[ROUTE_LABEL] = request.rel_url.raw_path
        if request.method not in ("GET", "HEAD"):
            raise GatewayError(
                405,
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {request.method} is not allowed on {request.rel_url.raw_path}",
                reason="METHOD_NOT_ALLOWED",
                headers={"Allow": "GET, HEAD"},
            )
        return await own(request)
    return await serve_rpc(
        request,
        gateway.routes,
        gateway.backends,
        request_id=request[REQUEST_ID],
        default_timeout=gateway.settings.default_timeout.total_seconds(),
    )


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "SERVING"})


async def _readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    if gateway.draining:
        return web.json_response({"status": "NOT_SERVING", "services": {}}, status=503)
    services = await gateway.backends.health(READINESS_TIMEOUT_SECONDS)
    ready = all(status == "SERVING" for status in services.values())
    return web.json_response(
        {"status": "SERVING" if ready else "NOT_SERVING", "services": services}, status=200 if ready else 503
    )


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[GATEWAY].openapi_json, content_type="application/json")


async def _docs(request: web.Request) -> web.Response:
    return web.Response(text=request.app[GATEWAY].docs_html, content_type="text/html")


_OWN_ENDPOINTS: dict[str, Handler] = {
    "/healthz": _healthz,
    "/readyz": _readyz,
    "/openapi.json": _openapi,
    "/docs": _docs,
}
