"""The migration runner applies numbered files once, in order, and refuses edited history."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from common import migrations

PACKAGE = "tests.integration.common.sample_migrations"


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        await connection.execute("DROP TABLE IF EXISTS widgets")
        yield connection


async def test_applies_pending_migrations_once_in_order(conn: psycopg.AsyncConnection) -> None:
    service = f"sample_{uuid.uuid4().hex[:6]}"
    assert await migrations.migrate(conn, service, PACKAGE) == [
        "0001_create_widgets.sql",
        "0002_add_colour.sql",
    ]
    assert await migrations.migrate(conn, service, PACKAGE) == []
    await conn.execute("INSERT INTO widgets (name) VALUES ('w')")
    row = await (await conn.execute("SELECT colour FROM widgets")).fetchone()
    assert row == ("blue",)


async def test_edited_migration_is_refused(conn: psycopg.AsyncConnection) -> None:
    service = f"sample_{uuid.uuid4().hex[:6]}"
    await migrations.migrate(conn, service, PACKAGE)
    await conn.execute(
        "UPDATE schema_migrations SET checksum = 'x' WHERE service = %s AND version = 1", (service,)
    )
    with pytest.raises(migrations.MigrationError, match="was edited"):
        await migrations.migrate(conn, service, PACKAGE)


async def test_unknown_recorded_migration_is_refused(conn: psycopg.AsyncConnection) -> None:
    service = f"sample_{uuid.uuid4().hex[:6]}"
    await migrations.migrate(conn, service, PACKAGE)
    await conn.execute(
        "INSERT INTO schema_migrations (service, version, name, checksum) VALUES (%s, 9, '0009_x.sql', 'x')",
        (service,),
    )
    with pytest.raises(migrations.MigrationError, match="not on disk"):
        await migrations.migrate(conn, service, PACKAGE)


async def test_concurrent_runners_apply_each_migration_exactly_once(database_url: str) -> None:
    service = f"sample_{uuid.uuid4().hex[:6]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as setup:
        await setup.execute("DROP TABLE IF EXISTS widgets")

    async def run() -> list[str]:
        async with await psycopg.AsyncConnection.connect(database_url) as connection:
            return await migrations.migrate(connection, service, PACKAGE)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sorted(len(applied) for applied in results) == [0, 0, 0, 2]


def test_discovery_orders_versions() -> None:
    found = migrations.discover(PACKAGE)
    assert [migration.version for migration in found] == [1, 2]
    assert all(len(migration.checksum) == 64 for migration in found)
