"""Runs the gateway: `python -m gateway`."""

from __future__ import annotations

import asyncio
import signal

from common.logs import configure_logging
from common.server import run_workers
from gateway.server import build_server
from gateway.settings import GatewaySettings


async def serve() -> None:
    """Builds, starts and runs one gateway process until SIGTERM or SIGINT."""
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


def main() -> None:
    """Entry point: the workers, and /metrics on GATEWAY_METRICS_PORT."""
    settings = GatewaySettings.from_env()
    configure_logging(settings.server.log_level, service="gateway")
    run_workers(serve, settings.server, settings.metrics)


if __name__ == "__main__":
    main()
