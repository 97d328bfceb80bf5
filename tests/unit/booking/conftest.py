"""Booking unit tests: real PostgreSQL and Redis, fake seat and payment services in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from booking_service.store import BookingStore
from common.db import open_pool
from tests.unit.booking.fakes import FakeDownstreams, fake_downstreams
from tests.unit.booking.harness import Parts, booking_settings, migrate_booking, wire


@pytest.fixture(scope="session")
async def booking_database(database_url: str) -> str:
    """The session database with the idempotency and booking migrations applied."""
    await migrate_booking(database_url)
    return database_url


@pytest.fixture(scope="session")
async def booking_pool(booking_database: str) -> AsyncIterator[AsyncConnectionPool]:
    """A pool on the booking database, shared by the session."""
    pool = await open_pool(booking_database, max_size=20, name="booking-tests")
    yield pool
    await pool.close()


@pytest.fixture
def store(booking_pool: AsyncConnectionPool) -> BookingStore:
    """The booking store on the session pool."""
    return BookingStore(booking_pool)


@pytest.fixture
async def fakes() -> AsyncIterator[FakeDownstreams]:
    """Fresh fake seat and payment services."""
    async with fake_downstreams() as downstreams:
        yield downstreams


@pytest.fixture
async def parts(
    store: BookingStore, fakes: FakeDownstreams, booking_database: str, redis_url: str
) -> AsyncIterator[Parts]:
    """The booking pieces wired to the fakes."""
    wired = wire(store, booking_settings(booking_database, redis_url, fakes.target))
    yield wired
    await wired.close()


@pytest.fixture
async def db(booking_database: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection for audits."""
    async with await psycopg.AsyncConnection.connect(booking_database, autocommit=True) as conn:
        yield conn
