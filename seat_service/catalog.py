"""Trips: create them idempotently, read them through an in-process cache (trips never change), list them."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from psycopg_pool import AsyncConnectionPool

from common.errors import IdempotencyKeyReused, NotFound
from seat_service import store
from seat_service.domain import Clock, Trip, trip_id_for
from seat_service.outages import postgres_guard
from seat_service.paging import (
    PageKey,
    TripFilter,
    decode_page_token,
    encode_page_token,
    validate_listing,
)
from seat_service.tenancy import ALL_OPERATORS
from seat_service.validation import NewTrip, build_trip, require, validate_new_trip


class TripCatalog:
    """The trips of the inventory."""

    def __init__(self, pool: AsyncConnectionPool[Any], clock: Clock, cache_size: int = 4096) -> None:
        self._pool = pool
        self._clock = clock
        self._cache: OrderedDict[str, Trip] = OrderedDict()
        self._cache_size = cache_size

    async def create(self, new: NewTrip, operator_id: str, request_id: str, request_hash: str) -> Trip:
        """Creates a trip for an operator; a retry with the same request_id returns the same trip."""
        validate_new_trip(new)
        trip = build_trip(new, trip_id_for(operator_id, request_id), operator_id, self._clock())
        async with postgres_guard(), self._pool.connection() as conn, conn.transaction():
            stored, stored_hash = await store.insert_trip(conn, trip, request_hash)
        if stored_hash != request_hash:
            raise IdempotencyKeyReused(
                "request_id was already used to create another trip",
                field_violations=[("request_id", "was used before with a different trip")],
            )
        self._remember(stored)
        return stored

    async def get(self, trip_id: str, operator_id: str = ALL_OPERATORS) -> Trip:
        """A trip by id; NotFound when there is none, or when it is not `operator_id`'s (if given)."""
        require(trip_id, "trip_id")
        trip = self._cache.get(trip_id)
        if trip is not None:
            self._cache.move_to_end(trip_id)
        else:
            async with postgres_guard(), self._pool.connection() as conn:
                trip = await store.get_trip(conn, trip_id)
            if trip is not None:
                self._remember(trip)
        if trip is None or operator_id not in (ALL_OPERATORS, trip.operator_id):
            raise NotFound(f"trip {trip_id} does not exist", metadata={"trip_id": trip_id})
        return trip

    async def list(self, filters: TripFilter, page_size: int, page_token: str) -> tuple[list[Trip], str]:
        """One page of trips matching the filters, and the token of the next page ("" on the last)."""
        size = validate_listing(filters, page_size)
        after = decode_page_token(page_token, filters)
        async with postgres_guard(), self._pool.connection() as conn:
            trips = await store.list_trips(conn, filters, after, size + 1)
        if len(trips) <= size:
            return trips, ""
        page = trips[:size]
        last = page[-1]
        return page, encode_page_token(PageKey(last.departure_time, last.trip_id), filters)

    def _remember(self, trip: Trip) -> None:
        self._cache[trip.trip_id] = trip
        self._cache.move_to_end(trip.trip_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
