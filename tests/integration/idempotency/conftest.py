"""Idempotency tests run against the session's real PostgreSQL with the common migrations applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from common.db import open_pool
from common.group_commit import GroupCommitter
from common.idempotency import IdempotencySettings, IdempotencyStore
from common.migrations import migrate
from tests.integration.idempotency.harness import Scripted, scripted_server


@pytest.fixture(scope="session")
async def keys_database(database_url: str) -> str:
    """The session database with the idempotency_keys table."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate(conn, "common", "common")
    return database_url


@pytest.fixture
async def pool(keys_database: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = await open_pool(keys_database, min_size=2, max_size=8, name="idempotency-test")
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: AsyncConnectionPool) -> AsyncIterator[IdempotencyStore]:
    committer = GroupCommitter(pool)
    yield IdempotencyStore(pool, committer)
    await committer.close()


@pytest.fixture
async def scripted(store: IdempotencyStore) -> AsyncIterator[Scripted]:
    """The scripted server; a duplicate waits at most 100 ms for the first request."""
    async with scripted_server(store, IdempotencySettings(wait=timedelta(milliseconds=100))) as server:
        yield server


@pytest.fixture
async def db(keys_database: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(keys_database, autocommit=True) as conn:
        yield conn
