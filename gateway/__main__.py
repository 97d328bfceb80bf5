"""Runs the gateway: `python -m gateway`."""

from __future__ import annotations

from common.logs import configure_logging
from common.server import run_workers
from gateway.server import serve
from gateway.settings import GatewaySettings


def main() -> None:
    """Entry point: the workers, and /metrics on GATEWAY_METRICS_PORT."""
    settings = GatewaySettings.from_env()
    configure_logging(settings.server.log_level, service="gateway")
    run_workers(serve, settings.server, settings.metrics)


if __name__ == "__main__":
    main()
