"""Runs the seat service: `python -m seat_service`."""

from __future__ import annotations

from common.logs import configure_logging
from common.server import run_workers
from seat_service.server import serve
from seat_service.settings import SeatSettings


def main() -> None:
    """Entry point: the workers, and /metrics on the metrics port."""
    settings = SeatSettings.from_env()
    configure_logging(settings.server.log_level, service="seat")
    run_workers(serve, settings.server, settings.platform.metrics)


if __name__ == "__main__":
    main()
