"""Real PostgreSQL and Redis from farebox_cli.embedded: use them, stop them, start them again."""

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from farebox_cli.embedded import start_postgres, start_redis


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh directory under the system temp dir, searchable by every user.

    Not tmp_path: pytest makes its base directory 0700, so as root the `postgres` user that
    runs the server could not enter it, and the module never chmods outside data_dir.
    """
    with tempfile.TemporaryDirectory(prefix="farebox-embedded-") as path:
        Path(path).chmod(0o755)
        yield Path(path)


def _accepts(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def test_postgres_serves_sql_then_stops(data_dir: Path) -> None:
    server = start_postgres(data_dir)
    try:
        parts = urlsplit(server.url)
        assert (parts.scheme, parts.username, parts.hostname, parts.path) == (
            "postgresql", "farebox", "127.0.0.1", "/farebox")  # fmt: skip
        with psycopg.connect(server.url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            conn.execute("create table trip (id text primary key, seats int not null)")
            conn.execute("insert into trip values ('t1', 40)")
            assert conn.execute("select id, seats from trip").fetchall() == [("t1", 40)]
    finally:
        server.stop()
    assert not _accepts(server.url)
    server.stop()  # a second stop is harmless


def test_postgres_restart_reuses_data_dir(data_dir: Path) -> None:
    with start_postgres(data_dir) as first:
        with psycopg.connect(first.url) as conn:  # commits on leaving the block
            conn.execute("create table kept (id int primary key)")
            conn.execute("insert into kept values (7)")
    assert not _accepts(first.url)
    initialised_at = (data_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns

    with start_postgres(data_dir) as second, psycopg.connect(second.url) as conn:
        assert conn.execute("select id from kept").fetchall() == [(7,)]
    assert (data_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns == initialised_at


def test_postgres_left_running_on_the_dir_is_replaced(data_dir: Path) -> None:
    abandoned = start_postgres(data_dir)  # as if `make run` had been killed
    with start_postgres(data_dir) as fresh, psycopg.connect(fresh.url) as conn:
        assert not _accepts(abandoned.url)
        assert conn.execute("select current_database()").fetchone() == ("farebox",)


def test_redis_sets_and_gets_then_stops(data_dir: Path) -> None:
    server = start_redis(data_dir)
    try:
        parts = urlsplit(server.url)
        assert (parts.scheme, parts.hostname, parts.path) == ("redis", "127.0.0.1", "/0")
        client = redis.Redis.from_url(server.url)
        try:
            assert client.set("hold:t1:12A", "booking-1") is True
            assert client.get("hold:t1:12A") == b"booking-1"
        finally:
            client.close()
    finally:
        server.stop()
    assert not _accepts(server.url)
    server.stop()


def test_redis_and_postgres_get_distinct_ports(data_dir: Path) -> None:
    with start_redis(data_dir / "redis") as cache, start_postgres(data_dir / "pg") as db:
        assert urlsplit(cache.url).port != urlsplit(db.url).port
        assert _accepts(cache.url) and _accepts(db.url)


def test_unreachable_data_dir_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to another OS user")
    with pytest.raises(RuntimeError, match="not searchable"):
        start_postgres(tmp_path / "pg")
