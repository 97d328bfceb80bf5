"""Runs a piece of background work every so often until stopped: saga recovery, sweepers, the outbox
relay, idempotency-key purges, dependency probes.

Stopping cancels the work in progress, and the loop also checks a flag of its own: on Python 3.11
a cancellation that arrives just as an `asyncio.wait_for` completes is lost (psycopg_pool waits for
connections that way), and the loop would then run on for ever while `stop` waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

log = structlog.get_logger()


class Periodic:
    """Calls `work` now and then every `interval`; a failure is logged and the loop goes on."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval: timedelta) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Starts the loop in the background."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stops the loop, cancelling work in progress."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.work()
            except Exception:
                log.exception("background_work_failed", task=self.name)
            if not self._stopping:
                await asyncio.sleep(self.interval.total_seconds())
