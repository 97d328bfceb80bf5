"""All SQL of the seat inventory. Every function takes a connection inside the caller's transaction.

PostgreSQL is the truth: a hold is a row, a sale is a `seat_sales` row per (trip, seat, segment)
under its primary key, so no seat-segment can be sold twice whatever the index says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from seat_service.domain import (
    Fare,
    Hold,
    HoldState,
    IndexSnapshot,
    Money,
    Seat,
    SeatClass,
    SeatState,
    SoldSeatSegment,
    Span,
    Stop,
    Trip,
)
from seat_service.paging import PageKey, TripFilter

Conn = AsyncConnection[Any]

_HOLD_COLUMNS = (
    "hold_id, trip_id, holder_id, request_id, seat_numbers, from_index, to_index, state,"
    " expire_time, total_minor, currency_code, booking_id"
)


@dataclass(frozen=True)
class CommitResult:
    """The outcome of committing a hold: the hold as it now is, and what happened."""

    hold: Hold | None
    committed_now: bool = False
    seats_lost: tuple[str, ...] = ()


class _SeatsLost(Exception):
    def __init__(self, seats: tuple[str, ...]) -> None:
        super().__init__(seats)
        self.seats = seats


# Trips


async def insert_trip(conn: Conn, trip: Trip, request_hash: str) -> tuple[Trip, str]:
    """Stores a trip unless its id exists; returns the stored trip and the hash of its request."""
    await conn.execute(
        """
        INSERT INTO trips (trip_id, operator_id, route_name, departure_time, stop_codes, stops, seats,
                           fares, currency_code, request_hash, create_time)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (trip_id) DO NOTHING
        """,
        (
            trip.trip_id,
            trip.operator_id,
            trip.route_name,
            trip.departure_time,
            list(trip.stop_codes),
            Jsonb([[s.code, s.name, s.minutes_after_departure] for s in trip.stops]),
            Jsonb([[s.seat_number, s.row, s.column, int(s.seat_class)] for s in trip.seats]),
            Jsonb([[int(f.seat_class), f.from_stop, f.to_stop, f.price.amount_minor] for f in trip.fares]),
            trip.currency_code,
            request_hash,
            trip.create_time,
        ),
    )
    cursor = await conn.execute("SELECT * FROM trips WHERE trip_id = %s", (trip.trip_id,))
    row = await cursor.fetchone()
    if row is None:  # inserted or already there, and trips are never deleted
        raise RuntimeError(f"trip {trip.trip_id} vanished while it was created")
    return _trip(row), row["request_hash"]


async def get_trip(conn: Conn, trip_id: str) -> Trip | None:
    """A trip by id, or None."""
    cursor = await conn.execute("SELECT * FROM trips WHERE trip_id = %s", (trip_id,))
    row = await cursor.fetchone()
    return None if row is None else _trip(row)


async def list_trips(conn: Conn, filters: TripFilter, after: PageKey | None, limit: int) -> list[Trip]:
    """Trips matching the filters, by departure time then id, after the given sort key."""
    cursor = await conn.execute(
        """
        SELECT * FROM trips
        WHERE (%(after_time)s::timestamptz IS NULL
               OR (departure_time, trip_id) > (%(after_time)s, %(after_id)s))
          AND (%(since)s::timestamptz IS NULL OR departure_time >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR departure_time < %(until)s)
          AND (%(origin)s = '' OR array_position(stop_codes, %(origin)s) < cardinality(stop_codes))
          AND (%(destination)s = '' OR array_position(stop_codes, %(destination)s) > 1)
          AND (%(origin)s = '' OR %(destination)s = ''
               OR array_position(stop_codes, %(origin)s) < array_position(stop_codes, %(destination)s))
          AND (%(operator)s = '' OR operator_id = %(operator)s)
        ORDER BY departure_time, trip_id
        LIMIT %(limit)s
        """,
        {
            "after_time": after.departure_time if after else None,
            "after_id": after.trip_id if after else "",
            "since": filters.departure_after,
            "until": filters.departure_before,
            "origin": filters.origin,
            "destination": filters.destination,
            "operator": filters.operator_id,
            "limit": limit,
        },
    )
    return [_trip(row) for row in await cursor.fetchall()]


async def trips_departing_after(conn: Conn, since: datetime) -> list[str]:
    """The ids of trips that depart after `since`: those whose index is worth loading on start."""
    cursor = await conn.execute("SELECT trip_id FROM trips WHERE departure_time > %s", (since,))
    return [row["trip_id"] for row in await cursor.fetchall()]


def _trip(row: dict[str, Any]) -> Trip:
    currency = row["currency_code"]
    return Trip(
        trip_id=row["trip_id"],
        operator_id=row["operator_id"],
        route_name=row["route_name"],
        stops=tuple(Stop(code, name, minutes) for code, name, minutes in row["stops"]),
        departure_time=row["departure_time"],
        seats=tuple(Seat(number, r, c, SeatClass(k)) for number, r, c, k in row["seats"]),
        fares=tuple(Fare(SeatClass(k), f, t, Money(amount, currency)) for k, f, t, amount in row["fares"]),
        create_time=row["create_time"],
    )


# Holds and sales


@dataclass(frozen=True)
class ClaimedHold:
    """A new hold whose seats were claimed in index generation `epoch`, to be stored as of `now`."""

    hold: Hold
    epoch: str
    now: datetime


async def insert_holds(conn: Conn, claimed: list[ClaimedHold]) -> list[tuple[Hold | None, bool]]:
    """Stores new ACTIVE holds in one statement; one outcome per hold, in order.

    An outcome is (the stored hold, True) when inserted; (the existing hold, False) when the id is
    taken; (None, False) when the trip's index was rebuilt since the claim, so the claim may be lost.
    The trip rows are share-locked, so a rebuild waits for this transaction and vice versa.
    """
    holds = [item.hold for item in claimed]
    cursor = await conn.execute(
        f"""
        WITH claimed AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb) AS c(
                hold_id text, trip_id text, epoch text, holder_id text, request_id text, seats jsonb,
                from_index smallint, to_index smallint, expire_time timestamptz, total_minor bigint,
                currency_code text, now timestamptz, ordinal bigint)
        ), current AS (
            SELECT trip_id, index_epoch FROM trips
            WHERE trip_id IN (SELECT trip_id FROM claimed) FOR SHARE
        )
        INSERT INTO seat_holds ({_HOLD_COLUMNS}, create_time, update_time)
        SELECT c.hold_id, c.trip_id, c.holder_id, c.request_id,
               ARRAY(SELECT jsonb_array_elements_text(c.seats)), c.from_index, c.to_index,
               'ACTIVE', c.expire_time, c.total_minor, c.currency_code, '', c.now, c.now
        FROM claimed c JOIN current t ON t.trip_id = c.trip_id AND t.index_epoch = c.epoch
        ORDER BY c.ordinal
        ON CONFLICT (hold_id) DO NOTHING
        RETURNING hold_id
        """,
        (json.dumps([_claimed_row(item, ordinal) for ordinal, item in enumerate(claimed)]),),
    )
    inserted = {row["hold_id"] for row in await cursor.fetchall()}
    won: list[bool] = []
    for hold in holds:
        won.append(hold.hold_id in inserted)
        inserted.discard(hold.hold_id)  # a second request for the same id in the batch lost
    lost = [hold.hold_id for hold, first in zip(holds, won, strict=True) if not first]
    existing = await get_holds(conn, lost) if lost else {}
    return [
        (hold, True) if first else (existing.get(hold.hold_id), False)
        for hold, first in zip(holds, won, strict=True)
    ]


def _claimed_row(claimed: ClaimedHold, ordinal: int) -> dict[str, Any]:
    hold = claimed.hold
    return {
        "ordinal": ordinal,
        "hold_id": hold.hold_id,
        "trip_id": hold.trip_id,
        "epoch": claimed.epoch,
        "holder_id": hold.holder_id,
        "request_id": hold.request_id,
        "seats": hold.seat_numbers,
        "from_index": hold.span.start,
        "to_index": hold.span.end,
        "expire_time": hold.expire_time.isoformat(),
        "total_minor": hold.total_price.amount_minor,
        "currency_code": hold.total_price.currency_code,
        "now": claimed.now.isoformat(),
    }


async def get_holds(conn: Conn, hold_ids: list[str]) -> dict[str, Hold]:
    """The holds of some ids that exist, by id."""
    cursor = await conn.execute(
        f"SELECT {_HOLD_COLUMNS} FROM seat_holds WHERE hold_id = ANY(%s)", (hold_ids,)
    )
    return {row["hold_id"]: _hold(row) for row in await cursor.fetchall()}


async def get_hold(conn: Conn, hold_id: str) -> Hold | None:
    """A hold by id, or None."""
    cursor = await conn.execute(f"SELECT {_HOLD_COLUMNS} FROM seat_holds WHERE hold_id = %s", (hold_id,))
    row = await cursor.fetchone()
    return None if row is None else _hold(row)


async def commit_hold(conn: Conn, hold_id: str, booking_id: str, now: datetime) -> CommitResult:
    """Sells an active, unexpired hold's seat-segments to a booking, all or none.

    A seat-segment sold meanwhile (the primary key of seat_sales decides) sells nothing: the hold,
    which can never be committed now, is released and the lost seats are reported in `seats_lost`.
    Runs in a savepoint, so a loss never spoils the caller's batch.
    """
    try:
        async with conn.transaction():
            cursor = await conn.execute(
                f"""
                UPDATE seat_holds SET state = 'COMMITTED', booking_id = %(booking)s, update_time = %(now)s
                WHERE hold_id = %(hold_id)s AND state = 'ACTIVE' AND expire_time > %(now)s
                RETURNING {_HOLD_COLUMNS}
                """,
                {"hold_id": hold_id, "booking": booking_id, "now": now},
            )
            row = await cursor.fetchone()
            if row is None:
                return CommitResult(await get_hold(conn, hold_id))
            hold = _hold(row)
            cursor = await conn.execute(
                """
                INSERT INTO seat_sales (trip_id, seat_number, segment, hold_id, booking_id, sold_at)
                SELECT %(trip_id)s, s.seat, g.segment, %(hold_id)s, %(booking)s, %(now)s
                FROM unnest(%(seats)s::text[]) AS s (seat)
                CROSS JOIN generate_series(%(start)s::int, %(end)s::int - 1) AS g (segment)
                ON CONFLICT (trip_id, seat_number, segment) DO NOTHING
                RETURNING seat_number, segment
                """,
                {
                    "trip_id": hold.trip_id,
                    "hold_id": hold_id,
                    "booking": booking_id,
                    "now": now,
                    "seats": list(hold.seat_numbers),
                    "start": hold.span.start,
                    "end": hold.span.end,
                },
            )
            sold = {(r["seat_number"], r["segment"]) for r in await cursor.fetchall()}
            lost = tuple(
                seat
                for seat in hold.seat_numbers
                if any((seat, segment) not in sold for segment in hold.span.segments)
            )
            if lost:
                raise _SeatsLost(lost)
            return CommitResult(hold, committed_now=True)
    except _SeatsLost as error:
        released, _ = await release_hold(conn, hold_id, now)
        return CommitResult(released, seats_lost=error.seats)


async def release_hold(conn: Conn, hold_id: str, now: datetime) -> tuple[Hold | None, bool]:
    """Ends an ACTIVE hold (RELEASED, or EXPIRED if past its expiry); returns it and whether it changed."""
    cursor = await conn.execute(
        f"""
        UPDATE seat_holds
        SET state = CASE WHEN expire_time > %(now)s THEN 'RELEASED' ELSE 'EXPIRED' END, update_time = %(now)s
        WHERE hold_id = %(hold_id)s AND state = 'ACTIVE'
        RETURNING {_HOLD_COLUMNS}
        """,
        {"hold_id": hold_id, "now": now},
    )
    row = await cursor.fetchone()
    if row is not None:
        return _hold(row), True
    return await get_hold(conn, hold_id), False


async def expire_holds(conn: Conn, now: datetime, limit: int) -> list[Hold]:
    """Marks up to `limit` ACTIVE holds past their expiry EXPIRED; safe in many replicas at once."""
    cursor = await conn.execute(
        f"""
        UPDATE seat_holds SET state = 'EXPIRED', update_time = %(now)s
        WHERE state = 'ACTIVE' AND hold_id IN (
            SELECT hold_id FROM seat_holds
            WHERE state = 'ACTIVE' AND expire_time <= %(now)s
            ORDER BY expire_time
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        RETURNING {_HOLD_COLUMNS}
        """,
        {"now": now, "limit": limit},
    )
    return [_hold(row) for row in await cursor.fetchall()]


async def return_sales(conn: Conn, booking_id: str, now: datetime) -> list[tuple[Hold, tuple[str, ...]]]:
    """Moves a booking's sales to seat_returns; returns each hold whose seats went back to stock."""
    cursor = await conn.execute(
        """
        WITH gone AS (
            DELETE FROM seat_sales WHERE booking_id = %(booking)s RETURNING *
        ), kept AS (
            INSERT INTO seat_returns
                (trip_id, seat_number, segment, hold_id, booking_id, sold_at, returned_at)
            SELECT trip_id, seat_number, segment, hold_id, booking_id, sold_at, %(now)s FROM gone
        )
        SELECT hold_id, array_agg(DISTINCT seat_number ORDER BY seat_number) AS seats
        FROM gone GROUP BY hold_id ORDER BY hold_id
        """,
        {"booking": booking_id, "now": now},
    )
    returned = []
    for row in await cursor.fetchall():
        hold = await get_hold(conn, row["hold_id"])
        if hold is not None:
            returned.append((hold, tuple(row["seats"])))
    return returned


def _hold(row: dict[str, Any]) -> Hold:
    return Hold(
        hold_id=row["hold_id"],
        trip_id=row["trip_id"],
        seat_numbers=tuple(row["seat_numbers"]),
        span=Span(row["from_index"], row["to_index"]),
        holder_id=row["holder_id"],
        state=HoldState(row["state"]),
        expire_time=row["expire_time"],
        total_price=Money(row["total_minor"], row["currency_code"]),
        booking_id=row["booking_id"],
        request_id=row["request_id"],
    )


# Seat states, the index and the audit


async def seat_states(conn: Conn, trip_id: str, span: Span, now: datetime) -> dict[str, SeatState]:
    """The taken seats of a journey, read from the truth (used when the index is unreachable)."""
    cursor = await conn.execute(
        """
        SELECT seat_number, true AS sold FROM seat_sales
        WHERE trip_id = %(trip_id)s AND segment >= %(start)s AND segment < %(end)s
        UNION ALL
        SELECT unnest(seat_numbers), false FROM seat_holds
        WHERE trip_id = %(trip_id)s AND state = 'ACTIVE' AND expire_time > %(now)s
          AND from_index < %(end)s AND to_index > %(start)s
        """,
        {"trip_id": trip_id, "start": span.start, "end": span.end, "now": now},
    )
    states: dict[str, SeatState] = {}
    for row in await cursor.fetchall():
        state = SeatState.SOLD if row["sold"] else SeatState.HELD
        states[row["seat_number"]] = max(state, states.get(row["seat_number"], SeatState.AVAILABLE))
    return states


async def lock_index_epoch(conn: Conn, trip_id: str) -> tuple[bool, str | None]:
    """Locks the trip row against new holds; returns whether the trip exists and its index epoch."""
    cursor = await conn.execute(
        "SELECT index_epoch FROM trips WHERE trip_id = %s FOR NO KEY UPDATE", (trip_id,)
    )
    row = await cursor.fetchone()
    return (False, None) if row is None else (True, row["index_epoch"])


async def set_index_epoch(conn: Conn, trip_id: str, epoch: str) -> None:
    """Records the generation of the trip's index (under the lock of `lock_index_epoch`)."""
    await conn.execute("UPDATE trips SET index_epoch = %s WHERE trip_id = %s", (epoch, trip_id))


async def index_snapshot(conn: Conn, trip_id: str, now: datetime) -> IndexSnapshot:
    """The active holds and sales of a trip: everything its seat index must hold."""
    cursor = await conn.execute(
        f"""
        SELECT {_HOLD_COLUMNS} FROM seat_holds
        WHERE trip_id = %s AND state = 'ACTIVE' AND expire_time > %s
        """,
        (trip_id, now),
    )
    active = tuple(_hold(row) for row in await cursor.fetchall())
    cursor = await conn.execute(
        """
        SELECT s.seat_number, s.segment, s.hold_id, h.holder_id, cardinality(h.seat_numbers) AS seat_count
        FROM seat_sales s JOIN seat_holds h USING (hold_id)
        WHERE s.trip_id = %s
        """,
        (trip_id,),
    )
    sold = tuple(
        SoldSeatSegment(r["seat_number"], r["segment"], r["hold_id"], r["holder_id"], r["seat_count"])
        for r in await cursor.fetchall()
    )
    return IndexSnapshot(trip_id, active, sold)


async def count_active_holds(conn: Conn, now: datetime) -> int:
    """The number of holds active now (not committed, released or expired)."""
    cursor = await conn.execute(
        "SELECT count(*) AS active FROM seat_holds WHERE state = 'ACTIVE' AND expire_time > %s", (now,)
    )
    row = await cursor.fetchone()
    return int(row["active"]) if row else 0


async def audit(conn: Conn, now: datetime, trip_id: str | None = None) -> int:
    """The number of seat-segments claimed more than once by active holds and sales together."""
    cursor = await conn.execute(
        """
        WITH claims AS (
            SELECT trip_id, seat_number, segment FROM seat_sales
            WHERE %(trip_id)s::text IS NULL OR trip_id = %(trip_id)s
            UNION ALL
            SELECT h.trip_id, s.seat, g.segment
            FROM seat_holds h
            CROSS JOIN LATERAL unnest(h.seat_numbers) AS s (seat)
            CROSS JOIN LATERAL generate_series(h.from_index::int, h.to_index::int - 1) AS g (segment)
            WHERE h.state = 'ACTIVE' AND h.expire_time > %(now)s
              AND (%(trip_id)s::text IS NULL OR h.trip_id = %(trip_id)s)
        )
        SELECT count(*) AS overlaps FROM (
            SELECT 1 FROM claims GROUP BY trip_id, seat_number, segment HAVING count(*) > 1
        ) AS doubled
        """,
        {"trip_id": trip_id, "now": now},
    )
    row = await cursor.fetchone()
    return int(row["overlaps"]) if row else 0
