"""Runs the payment service: `python -m payment_service`."""

from __future__ import annotations

from common.logs import configure_logging
from common.server import run_workers
from payment_service.server import serve
from payment_service.settings import PaymentSettings


def main() -> None:
    """Entry point: the workers, and /metrics on the metrics port."""
    settings = PaymentSettings.from_env()
    configure_logging(settings.server.log_level, service="payment")
    run_workers(serve, settings.server, settings.platform.metrics)


if __name__ == "__main__":
    main()
