"""Runs a piece of background work every so often until stopped: saga recovery, sweepers, the outbox
relay, idempotency-key purges, dependency probes."""

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

    def start(self) -> None:
        """Starts the loop in the background."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stops the loop, cancelling work in progress."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.work()
            except Exception:
                log.exception("background_work_failed", task=self.name)
            await asyncio.sleep(self.interval.total_seconds())
