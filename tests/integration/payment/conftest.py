"""Payment tests run against the session's real PostgreSQL with the ledger migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from common.migrations import migrate_service
from tests.integration.payment.harness import RunningPayment, payment_settings, running


@pytest.fixture(scope="session")
async def payment_database(database_url: str) -> str:
    """The session database with the idempotency and payment migrations applied."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate_service(conn, "payment", "payment_service")
    return database_url


@pytest.fixture
async def payment(payment_database: str) -> AsyncIterator[RunningPayment]:
    """A payment server with default settings and a fresh sandbox."""
    async with running(payment_settings(payment_database)) as service:
        yield service


@pytest.fixture
async def db(payment_database: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection for audits."""
    async with await psycopg.AsyncConnection.connect(payment_database, autocommit=True) as conn:
        yield conn
