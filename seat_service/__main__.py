"""Runs the seat service: `python -m seat_service`."""

from __future__ import annotations

from common.logs import configure_logging
from common.platform import Platform
from common.server import run_workers, serve_until_signalled
from seat_service.server import build_server
from seat_service.settings import SeatSettings


async def serve() -> None:
    """Builds, starts and runs one seat-service process until SIGTERM."""
    settings = SeatSettings.from_env()
    configure_logging(settings.server.log_level, service="seat")
    platform = Platform.configure(settings.platform, service="seat")
    host = await build_server(settings, platform=platform)
    await platform.start(host, settings.server)
    await serve_until_signalled(host, settings.server)


def main() -> None:
    """Entry point: the workers, and /metrics on the metrics port."""
    settings = SeatSettings.from_env()
    configure_logging(settings.server.log_level, service="seat")
    run_workers(serve, settings.server, settings.platform.metrics)


if __name__ == "__main__":
    main()
