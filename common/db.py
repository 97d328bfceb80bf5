"""The async PostgreSQL connection pool every service uses."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def open_pool(
    url: str, *, min_size: int = 2, max_size: int = 10, name: str = "farebox"
) -> AsyncConnectionPool:
    """Opens a pool of autocommit-off connections that return rows as dicts, and waits until it is ready."""
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={"row_factory": dict_row, "prepare_threshold": 0},
        timeout=10.0,
    )
    await pool.open(wait=True, timeout=30.0)
    return pool
