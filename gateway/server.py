"""Wires the gateway: routes and OpenAPI from the descriptors, backend channels, the HTTP server."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass

import farebox
import structlog
from aiohttp import web

from common.logs import configure_logging
from gateway.app import Gateway, create_app
from gateway.backends import Backends
from gateway.comments import load_comments
from gateway.docs_page import render_docs
from gateway.openapi import build_openapi
from gateway.routes import build_routes, import_services
from gateway.settings import GatewaySettings

log = structlog.get_logger()

API_TITLE = "Farebox API"
API_VERSION = "v1"


@dataclass
class GatewayHost:
    """The gateway's application and, once started, its runner and bound port."""

    gateway: Gateway
    app: web.Application
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self, address: str) -> int:
        """Listens on `host:port` (port 0 picks a free one) and returns the bound port."""
        host, _, port = address.rpartition(":")
        grace = self.gateway.settings.server.shutdown_grace.total_seconds()
        self.runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=grace
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, int(port), reuse_port=self.gateway.settings.server.workers > 1)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        log.info("gateway_started", port=self.port, routes=len(self.gateway.routes.routes))
        return self.port

    async def stop(self) -> None:
        """Fails readiness, lets in-flight requests finish within the grace, then closes channels."""
        self.gateway.draining = True
        if self.runner is not None:
            await self.runner.cleanup()
        await self.gateway.backends.close()
        log.info("gateway_stopped", port=self.port)


def build_server(settings: GatewaySettings) -> GatewayHost:
    """A gateway host, not yet started, for every annotated RPC of the generated `farebox` packages."""
    routes = build_routes(import_services(farebox))
    backends = Backends(
        settings.backends,
        routes.services,
        tls=settings.tls,
        default_timeout=settings.default_timeout.total_seconds(),
    )
    spec = build_openapi(routes, load_comments(settings.descriptor_set), title=API_TITLE, version=API_VERSION)
    gateway = Gateway(
        settings=settings,
        routes=routes,
        backends=backends,
        openapi_json=json.dumps(spec, indent=1).encode(),
        docs_html=render_docs(spec),
    )
    return GatewayHost(gateway=gateway, app=create_app(gateway))


async def serve() -> None:
    """Builds, starts and runs one gateway process until SIGTERM or SIGINT (a worker of `run_workers`)."""
    settings = GatewaySettings.from_env()
    configure_logging(settings.server.log_level, service="gateway")
    host = build_server(settings)
    await host.start(f"{settings.server.host}:{settings.server.port}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await host.stop()
