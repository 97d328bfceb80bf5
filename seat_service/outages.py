"""Turns an unreachable PostgreSQL or Redis into Unavailable with a reason naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import psycopg
from psycopg_pool import PoolTimeout
from redis import exceptions as redis_errors

from common.errors import Unavailable

REDIS_UNAVAILABLE = "REDIS_UNAVAILABLE"
POSTGRES_UNAVAILABLE = "POSTGRES_UNAVAILABLE"
REDIS_OUTAGES = (redis_errors.ConnectionError, redis_errors.TimeoutError)
POSTGRES_OUTAGES = (psycopg.OperationalError, PoolTimeout)
_RETRY_AFTER = timedelta(seconds=1)


def redis_unavailable() -> Unavailable:
    """The error a caller gets while the seat index is unreachable."""
    return Unavailable(
        "the seat index (Redis) is unreachable", reason=REDIS_UNAVAILABLE, retry_after=_RETRY_AFTER
    )


def postgres_unavailable() -> Unavailable:
    """The error a caller gets while the database is unreachable."""
    return Unavailable(
        "the seat database (PostgreSQL) is unreachable", reason=POSTGRES_UNAVAILABLE, retry_after=_RETRY_AFTER
    )


@asynccontextmanager
async def redis_guard() -> AsyncIterator[None]:
    """Re-raises a Redis outage as Unavailable(REDIS_UNAVAILABLE)."""
    try:
        yield
    except REDIS_OUTAGES as error:
        raise redis_unavailable() from error


@asynccontextmanager
async def postgres_guard() -> AsyncIterator[None]:
    """Re-raises a PostgreSQL outage as Unavailable(POSTGRES_UNAVAILABLE)."""
    try:
        yield
    except POSTGRES_OUTAGES as error:
        raise postgres_unavailable() from error
