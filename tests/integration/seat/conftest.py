"""Fixtures for the seat service against the session's real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from common.db import open_pool
from common.migrations import migrate_service
from tests.integration.seat.redis_process import RedisProcess
from tests.integration.seat.support import FakeClock, RunningSeatService, running_service, settings_for


@pytest.fixture(scope="session")
async def seat_database_url(database_url: str) -> str:
    """The session database with the idempotency and seat migrations applied."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate_service(conn, "seat", "seat_service")
    return database_url


@pytest.fixture
def clock() -> FakeClock:
    """The service's clock, moved by the test."""
    return FakeClock()


@pytest.fixture
async def seat(seat_database_url: str, redis_url: str, clock: FakeClock) -> AsyncIterator[RunningSeatService]:
    """A seat service on the session's stores, with the test's clock."""
    async with running_service(settings_for(seat_database_url, redis_url), clock) as service:
        yield service


@pytest.fixture
async def pool(seat_database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    """A pool on the seat database, to look at the truth directly."""
    pool = await open_pool(seat_database_url, name="seat-test")
    yield pool
    await pool.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the session's Redis."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis of this test's own, to flush, stop and restart without touching the session's."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()
