"""Runs the booking service: `python -m booking_service`; only its outbox relay: `... relay`; or the
notification consumer: `... consume`."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import structlog
import uvloop
from redis.asyncio import Redis

from booking_service.outbox import BookingEvent, EventConsumer, OutboxRelay
from booking_service.server import serve
from booking_service.settings import BookingSettings, StreamWorkerSettings
from booking_service.store import BookingStore
from common.db import open_pool
from common.logs import configure_logging
from common.metrics import start_metrics_server
from common.periodic import Periodic
from common.server import run_workers

log = structlog.get_logger()

# The consumer group of the notification consumer; KEDA scales it on this group's lag.
NOTIFICATIONS_GROUP = "notifications"


def stop_on_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    return stop


async def relay(settings: StreamWorkerSettings) -> None:
    """Publishes outbox events to the stream until SIGTERM (for servers run with BOOKING_RUN_RELAY=false)."""
    stop = stop_on_signal()
    pool = await open_pool(settings.database_url, max_size=2, name="booking-relay")
    redis = Redis.from_url(settings.redis_url)
    events = settings.events
    outbox = OutboxRelay(BookingStore(pool), redis, events.stream, events.max_length)
    loop = Periodic("outbox_relay", outbox.relay_once, events.relay_interval)
    loop.start()
    log.info("relay_started", stream=events.stream)
    await stop.wait()
    await loop.stop()
    await redis.aclose()
    await pool.close()
    log.info("relay_stopped")


async def notify(event: BookingEvent) -> None:
    """Sends the notification an event calls for (here: one log line per event)."""
    log.info(
        "notification_sent", event_id=event.event_id, booking_id=event.booking_id, event_type=event.event_type
    )


async def consume(settings: StreamWorkerSettings) -> None:
    """Reads the events stream as the notification consumer group, each event once, until SIGTERM."""
    stop = stop_on_signal()
    redis = Redis.from_url(settings.redis_url)
    consumer = EventConsumer(redis, settings.events.stream, NOTIFICATIONS_GROUP, socket.gethostname())
    await consumer.join()
    log.info("consumer_started", stream=settings.events.stream, group=NOTIFICATIONS_GROUP)
    while not stop.is_set():
        try:
            await consumer.consume(notify)
        except Exception:
            log.exception("consume_failed", stream=settings.events.stream)
            await asyncio.sleep(1)
    await redis.aclose()
    log.info("consumer_stopped")


def run_stream_worker(work: str) -> None:
    """Runs `relay` or `consume` with /metrics on BOOKING_METRICS_PORT."""
    settings = StreamWorkerSettings.from_env()
    configure_logging(settings.server.log_level, service=f"booking-{work}")
    endpoint = start_metrics_server(settings.server.host, settings.server.metrics_port)
    try:
        uvloop.run(relay(settings) if work == "relay" else consume(settings))
    finally:
        endpoint.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["relay"], ["consume"]):
        run_stream_worker(args[0])
    elif not args:
        settings = BookingSettings.from_env()
        configure_logging(settings.server.log_level, service="booking")
        run_workers(serve, settings.server, settings.platform.metrics)
    else:
        sys.exit("usage: python -m booking_service [relay | consume]")


if __name__ == "__main__":
    main()
