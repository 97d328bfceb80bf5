"""Databases for tests: a fresh one per use, with every migration applied when asked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from farebox_cli.stack import apply_migrations


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on the server, dropped afterwards; its URL."""
    name = f"farebox_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_all(database_url: str) -> None:
    """Applies the idempotency keys' and every service's migrations."""
    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this thread
        thread.submit(apply_migrations, database_url).result()
