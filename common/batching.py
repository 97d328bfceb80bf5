"""Micro-batching: what concurrent callers ask for at the same moment is done in one go.

A `Batcher` queues each caller's item; a flusher takes everything queued (up to `max_batch`) and
hands it to one `flush` call, which resolves every pending item with its own result or error. A
flusher first lets the tasks that are ready run once, so callers arriving together share a flush.
Under load (the previous flush carried more than one item) it then waits `linger` for more callers,
since a flush costs about the same for one item as for several; a lone caller never waits. Items
also queue while the flushers are busy and the next flush takes them all: one flusher makes the
largest batches, more let flushes overlap when one can wait on another (a lock). An item whose
caller left before its flush is dropped unsent.

A flush serves many callers' traces at once, so no one trace could own the database or Redis calls it
makes: flushers run with OpenTelemetry's instrumentation suppressed, and those calls cost no tracing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opentelemetry.instrumentation.utils import suppress_instrumentation

I = TypeVar("I")  # noqa: E741 - the item type
R = TypeVar("R")


@dataclass(eq=False)
class Pending(Generic[I, R]):
    """One caller's item, waiting for its outcome."""

    item: I
    future: asyncio.Future[R]

    def resolve(self, result: R) -> None:
        """Hands the caller its result."""
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        """Hands the caller an error."""
        if not self.future.done():
            self.future.set_exception(error)


Flush = Callable[[list[Pending[I, R]]], Awaitable[None]]
# Under load, how long a flusher waits for more callers: at 1,000 holds/s it about doubles a batch and
# cut the CPU per hold by a third (benchmarks/README.md), for at most this much more latency.
LINGER_SECONDS = 0.003


class Batcher(Generic[I, R]):
    """Feeds concurrent callers' items to `flush` in batches."""

    def __init__(
        self, flush: Flush[I, R], *, max_batch: int = 128, flushers: int = 1, linger: float = LINGER_SECONDS
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._linger = linger
        self._under_load = False
        self._queue: asyncio.Queue[Pending[I, R]] = asyncio.Queue()
        with suppress_instrumentation():  # the flushers' tasks start in this context
            self._flushers = [asyncio.create_task(self._flush_forever()) for _ in range(flushers)]

    async def submit(self, item: I) -> R:
        """Queues `item` and returns its outcome once a flush has settled it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Pending(item, future))
        return await future

    async def close(self) -> None:
        """Stops the flushers once everything queued has been flushed."""
        await self._queue.join()
        for task in self._flushers:
            task.cancel()
        await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # The callers that are ready now join this batch; under load, those of the next moments too.
            await asyncio.sleep(self._linger if self._under_load else 0)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._under_load = len(batch) > 1
            try:
                await self._settle([pending for pending in batch if not pending.future.done()])
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _settle(self, live: list[Pending[I, R]]) -> None:
        if not live:
            return
        try:
            await self._flush(live)
        except Exception as error:  # noqa: BLE001 - handed to every caller of the batch
            for pending in live:
                pending.fail(error)
        for pending in live:
            pending.fail(RuntimeError(f"{_name(self._flush)} left an item unresolved"))


def _name(function: Any) -> str:
    return str(getattr(function, "__qualname__", function))
