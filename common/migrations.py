"""Forward-only numbered SQL migrations per service, applied by one runner and recorded.

A service keeps `migrations/0001_name.sql`, `0002_...` beside its code. Each file is applied once, in
its own transaction, under an advisory lock so replicas starting together apply it exactly once. An
applied file whose text has changed is an error: migrations are never edited, only added.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import structlog
from psycopg import AsyncConnection, sql
from psycopg.rows import tuple_row

log = structlog.get_logger()

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x46_42_4D_49  # "FBMI"


class MigrationError(RuntimeError):
    """The migrations on disk disagree with those recorded in the database."""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        """The SHA-256 of the file's text."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def discover(package: str) -> list[Migration]:
    """The migrations in `<package>/migrations`, in version order; gaps and duplicates are errors."""
    folder = resources.files(package) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"{package}: migration file {entry.name} is not named NNNN_name.sql")
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"{package}: expected migration {expected:04d}, found {migration.name}")
    return found


async def migrate(conn: AsyncConnection, service: str, package: str) -> list[str]:
    """Applies the package's pending migrations for `service`; returns the names applied."""
    migrations = discover(package)
    await conn.set_autocommit(True)
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            service text NOT NULL,
            version integer NOT NULL,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (service, version)
        )
        """
    )
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        return await _apply_pending(conn, service, migrations)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


async def migrate_service(conn: AsyncConnection, service: str, package: str) -> list[str]:
    """Applies the shared tables' pending migrations (idempotency keys), then the service's own."""
    return [*await migrate(conn, "common", "common"), *await migrate(conn, service, package)]


async def _apply_pending(conn: AsyncConnection, service: str, migrations: list[Migration]) -> list[str]:
    cursor = conn.cursor(row_factory=tuple_row)
    await cursor.execute("SELECT version, checksum FROM schema_migrations WHERE service = %s", (service,))
    recorded: dict[int, str] = dict(await cursor.fetchall())
    on_disk = {migration.version for migration in migrations}
    unknown = sorted(set(recorded) - on_disk)
    if unknown:
        raise MigrationError(f"{service}: database has migrations {unknown} that are not on disk")
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(f"{service}: applied migration {migration.name} was edited")
            continue
        async with conn.transaction():
            await conn.execute(sql.SQL(migration.text))
            await conn.execute(
                "INSERT INTO schema_migrations (service, version, name, checksum) VALUES (%s, %s, %s, %s)",
                (service, migration.version, migration.name, migration.checksum),
            )
        log.info("migration_applied", service=service, migration=migration.name)
        applied.append(migration.name)
    return applied
