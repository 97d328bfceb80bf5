"""Group commit: concurrent writes share transactions, and one bad write fails alone."""

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from common.db import open_pool
from common.group_commit import GroupCommitter


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = await open_pool(database_url, min_size=2, max_size=4, name="test")
    async with pool.connection() as conn:
        await conn.execute("DROP TABLE IF EXISTS gc_items")
        await conn.execute("CREATE TABLE gc_items (n int PRIMARY KEY, txid bigint NOT NULL)")
    yield pool
    await pool.close()


async def test_concurrent_writes_commit_in_shared_transactions(pool: AsyncConnectionPool) -> None:
    committer = GroupCommitter(pool, flushers=1)

    async def insert(n: int) -> int:
        async def work(conn: psycopg.AsyncConnection) -> int:
            await conn.execute("INSERT INTO gc_items VALUES (%s, txid_current())", (n,))
            return n

        return await committer.run(work)

    assert sorted(await asyncio.gather(*(insert(n) for n in range(200)))) == list(range(200))
    await committer.close()
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT count(*) AS items, count(DISTINCT txid) AS transactions FROM gc_items")
        ).fetchone()
    assert row["items"] == 200
    assert row["transactions"] < 200


async def test_a_failing_write_fails_alone(pool: AsyncConnectionPool) -> None:
    committer = GroupCommitter(pool, flushers=1)

    async def insert(n: int) -> None:
        async def work(conn: psycopg.AsyncConnection) -> None:
            await conn.execute("INSERT INTO gc_items VALUES (%s, txid_current())", (n,))

        await committer.run(work)

    outcomes = await asyncio.gather(*(insert(n) for n in [1, 2, 2, 3, 4]), return_exceptions=True)
    await committer.close()
    failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], psycopg.errors.UniqueViolation)
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT n FROM gc_items ORDER BY n")).fetchall()
    assert [row["n"] for row in rows] == [1, 2, 3, 4]


async def test_batched_items_go_in_one_statement_and_a_bad_one_fails_alone(pool: AsyncConnectionPool) -> None:
    committer = GroupCommitter(pool, flushers=1)
    statements: list[list[int]] = []

    async def insert_many(conn: psycopg.AsyncConnection, numbers: list[int]) -> list[int]:
        statements.append(numbers)
        await conn.execute(
            "INSERT INTO gc_items SELECT n, txid_current() FROM unnest(%s::int[]) AS n", (numbers,)
        )
        return [-n for n in numbers]

    outcomes = await asyncio.gather(
        *(committer.run_batched(insert_many, n) for n in [*range(50), 7]), return_exceptions=True
    )
    await committer.close()

    assert outcomes[:50] == [-n for n in range(50)]
    assert isinstance(outcomes[50], psycopg.errors.UniqueViolation)  # the second 7
    assert any(len(numbers) > 1 for numbers in statements)
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT n FROM gc_items ORDER BY n")).fetchall()
    assert [row["n"] for row in rows] == list(range(50))
