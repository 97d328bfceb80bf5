"""Group commit: concurrent requests' writes share one transaction, so durability costs one commit per batch.

A write is either a piece of work (a coroutine function taking a connection inside an open
transaction, `run`) or an item for a batched statement (`run_batched`: a coroutine function taking
the connection and every item queued for it, returning one result per item, so many callers' rows
go in one statement). Writes are queued (see `common.batching`); a flush runs everything queued in
one transaction and commits, then resolves every caller. If anything fails, the batch is rolled back
and each write is run again in its own transaction, so one bad request never fails its neighbours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from common.batching import Batcher, Pending

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type
Conn = AsyncConnection[Any]
Work = Callable[[Conn], Awaitable[Any]]
Statement = Callable[[Conn, list[Any]], Awaitable[list[Any]]]
Write = Pending[tuple[Statement, Any], Any]


class GroupCommitter:
    """Batches writes from concurrent callers into shared transactions on a pool."""

    def __init__(self, pool: AsyncConnectionPool, max_batch: int = 128, flushers: int = 2) -> None:
        self._pool = pool
        self._batcher: Batcher[tuple[Statement, Any], Any] = Batcher(
            self._commit, max_batch=max_batch, flushers=flushers
        )

    async def run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Runs `work` in a shared transaction and returns its result once the transaction committed."""
        result: T = await self._batcher.submit((_each, work))
        return result

    async def run_batched(self, statement: Callable[[Conn, list[I]], Awaitable[list[T]]], item: I) -> T:
        """Runs `statement` once per transaction over every item queued for it; returns `item`'s result
        once the transaction committed."""
        result: T = await self._batcher.submit((statement, item))
        return result

    async def close(self) -> None:
        """Stops the flushers after the queued work is done."""
        await self._batcher.close()

    async def _commit(self, batch: list[Write]) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                results = await _apply(conn, [write.item for write in batch])
        except Exception as error:  # noqa: BLE001 - retried one by one below
            if len(batch) == 1:
                batch[0].fail(error)
                return
            for write in batch:
                await self._commit_alone(write)
            return
        for write, result in zip(batch, results, strict=True):
            write.resolve(result)

    async def _commit_alone(self, write: Write) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                (result,) = await _apply(conn, [write.item])
        except Exception as error:  # noqa: BLE001 - handed to the caller
            write.fail(error)
            return
        write.resolve(result)


async def _apply(conn: Conn, writes: list[tuple[Statement, Any]]) -> list[Any]:
    """Runs each statement once over its items (statements in the order first queued); results in
    the order of `writes`."""
    positions: dict[Statement, list[int]] = {}
    for position, (statement, _) in enumerate(writes):
        positions.setdefault(statement, []).append(position)
    results: list[Any] = [None] * len(writes)
    for statement, indexes in positions.items():
        outcomes = await statement(conn, [writes[index][1] for index in indexes])
        for index, outcome in zip(indexes, outcomes, strict=True):
            results[index] = outcome
    return results


async def _each(conn: Conn, works: list[Work]) -> list[Any]:
    """Plain work: each piece in turn on the shared connection."""
    return [await work(conn) for work in works]
