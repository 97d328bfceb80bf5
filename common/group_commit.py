"""Group commit: concurrent requests' writes share one transaction, so durability costs one commit per batch.

Each piece of work is a coroutine function taking a connection inside an open transaction. Work is
queued; a flusher takes everything queued, runs it in one transaction and commits, then resolves
every caller. If any piece fails, the batch is rolled back and each piece is run again in its own
transaction, so one bad request never fails its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

T = TypeVar("T")
Work = Callable[[AsyncConnection[Any]], Awaitable[Any]]


class GroupCommitter:
    """Batches writes from concurrent callers into shared transactions on a pool."""

    def __init__(self, pool: AsyncConnectionPool, max_batch: int = 128, flushers: int = 2) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Work, asyncio.Future[Any]]] = asyncio.Queue()
        self._flushers = [asyncio.create_task(self._flush_forever()) for _ in range(flushers)]

    async def run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Runs `work` in a shared transaction and returns its result once the transaction committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, future))
        return await future

    async def close(self) -> None:
        """Stops the flushers after the queued work is done."""
        await self._queue.join()
        for task in self._flushers:
            task.cancel()
        await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._flush(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _flush(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        live = [(work, future) for work, future in batch if not future.cancelled()]
        if not live:
            return
        try:
            async with self._pool.connection() as conn, conn.transaction():
                results = [await work(conn) for work, _ in live]
        except Exception:  # noqa: BLE001 - retried one by one below
            if len(live) == 1:
                await self._run_alone(*live[0])
                return
            for work, future in live:
                await self._run_alone(work, future)
            return
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _run_alone(self, work: Work, future: asyncio.Future[Any]) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                result = await work(conn)
        except Exception as error:  # noqa: BLE001 - handed to the caller
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)
