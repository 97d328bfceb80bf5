"""Session fixtures: real PostgreSQL and Redis, from DATABASE_URL / REDIS_URL or started here.

A fresh database is created for every test session, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from farebox_cli.embedded import start_postgres, start_redis
from tests.support.databases import fresh_database
from tests.support.platform import DevCredentials


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    """A directory every user can enter, for servers this session starts (PostgreSQL runs as another user)."""
    with tempfile.TemporaryDirectory(prefix="farebox-test-") as path:
        Path(path).chmod(0o755)
        yield Path(path)


@pytest.fixture(scope="session")
def postgres_server_url(servers_dir: Path) -> Iterator[str]:
    """The URL of a PostgreSQL server: DATABASE_URL's, or a private one started now."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    server = start_postgres(servers_dir / "postgres")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A database created for this test session and dropped after it."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(servers_dir: Path) -> Iterator[str]:
    """The URL of a Redis server: REDIS_URL's, or a private one started now."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    server = start_redis(servers_dir / "redis")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dev_credentials(servers_dir: Path) -> DevCredentials:
    """A dev CA with a certificate per service, and a token signing key, for this session."""
    return DevCredentials.create(servers_dir / "credentials")
