"""Runs the payment service: `python -m payment_service`."""

from __future__ import annotations

from common.logs import configure_logging
from common.platform import Platform
from common.server import run_workers, serve_until_signalled
from payment_service.server import build_server
from payment_service.settings import PaymentSettings


async def serve() -> None:
    """Builds, starts and runs one payment-service process until SIGTERM."""
    settings = PaymentSettings.from_env()
    configure_logging(settings.server.log_level, service="payment")
    platform = Platform.configure(settings.platform, service="payment")
    host = await build_server(settings, platform=platform)
    await platform.start(host, settings.server)
    await serve_until_signalled(host, settings.server)


def main() -> None:
    """Entry point: the workers, and /metrics on the metrics port."""
    settings = PaymentSettings.from_env()
    configure_logging(settings.server.log_level, service="payment")
    run_workers(serve, settings.server, settings.platform.metrics)


if __name__ == "__main__":
    main()
