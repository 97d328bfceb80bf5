"""Holds, sales and seat maps: Redis decides availability fast, PostgreSQL records every outcome first.

A hold is claimed atomically in the trip's Redis index, then written to PostgreSQL through the group
committer; the caller hears back only once the row is committed. If the write fails, the claim is
undone. A commit is decided by PostgreSQL alone (the seat_sales primary key), then mirrored in Redis.
Holds won and refused (by reason) and seats sold are counted as they happen.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from common.domain_metrics import domain_metrics
from common.errors import (
    FailedPrecondition,
    FareboxError,
    IdempotencyKeyReused,
    NotFound,
    SeatUnavailable,
    Unavailable,
)
from common.group_commit import GroupCommitter
from seat_service import store
from seat_service.catalog import TripCatalog
from seat_service.domain import (
    ChangeKind,
    Clock,
    Hold,
    HoldState,
    SeatMap,
    SeatState,
    Span,
    Trip,
    expiry,
    from_ms,
    hold_id_for,
    hold_price,
    seat_state,
    seat_statuses,
    to_ms,
)
from seat_service.outages import (
    POSTGRES_OUTAGES,
    REDIS_OUTAGES,
    postgres_guard,
    postgres_unavailable,
    redis_guard,
    redis_unavailable,
)
from seat_service.rebuild import IndexBuilder
from seat_service.redis_index import HoldOutcome, SeatIndex, claim_fields
from seat_service.validation import HoldRequest, require

log = structlog.get_logger()

T = TypeVar("T")
_ATTEMPTS = 3


class SeatInventory:
    """The seat operations of the service, over the Redis index and the PostgreSQL truth."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[Any],
        committer: GroupCommitter,
        index: SeatIndex,
        builder: IndexBuilder,
        catalog: TripCatalog,
        clock: Clock,
        max_seats_per_holder: int,
        redis_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pool = pool
        self._committer = committer
        self._index = index
        self._builder = builder
        self.catalog = catalog
        self._clock = clock
        self._limit = max_seats_per_holder
        self._redis_up = redis_up
        self._settling: set[asyncio.Task[None]] = set()
        self._metrics = domain_metrics()

    async def prepare(self, trip: Trip) -> None:
        """Loads a new trip's index so its first hold need not; a failure is left to the first use."""
        try:
            await self._builder.ensure(trip.trip_id, reason=None)
        except Unavailable as error:
            log.warning("seat_index_not_loaded", trip_id=trip.trip_id, reason=error.reason)

    # Seat maps

    async def seat_map(self, trip: Trip, span: Span) -> SeatMap:
        """Every seat's state for a journey: from the index, or from PostgreSQL (degraded) without it."""
        now = self._clock()
        if self._redis_up():
            try:
                states = await self.states(trip, span, [seat.seat_number for seat in trip.seats], to_ms(now))
                return SeatMap(trip.trip_id, span, seat_statuses(trip, span, states), now)
            except (*REDIS_OUTAGES, Unavailable) as error:
                log.warning("seat_map_degraded", trip_id=trip.trip_id, error=type(error).__name__)
        async with postgres_guard(), self._pool.connection() as conn:
            states = await store.seat_states(conn, trip.trip_id, span, now)
        return SeatMap(trip.trip_id, span, seat_statuses(trip, span, states), now, degraded=True)

    async def states(
        self, trip: Trip, span: Span, seat_numbers: list[str], now_ms: int
    ) -> dict[str, SeatState]:
        """The states of some seats for a journey, read from the index (loading it if it is lost)."""
        fields = claim_fields(seat_numbers, span)
        claims = await self._index.claims(trip.trip_id, fields)
        if claims is None:
            await self._builder.ensure(trip.trip_id)
            claims = await self._index.claims(trip.trip_id, fields)
            if claims is None:
                raise redis_unavailable()
        per_seat = len(span.segments)
        return {
            seat: seat_state(claims[i * per_seat : (i + 1) * per_seat], now_ms)
            for i, seat in enumerate(seat_numbers)
        }

    # Holds

    async def hold(self, request: HoldRequest) -> Hold:
        """Holds all the seats or none; a retry with the same request_id returns the same hold."""
        try:
            return await self._hold(request)
        except FareboxError as error:
            self._metrics.holds_rejected.labels(reason=error.reason).inc()
            raise

    async def _hold(self, request: HoldRequest) -> Hold:
        if not self._redis_up():
            raise redis_unavailable()
        trip = await self.catalog.get(request.trip_id)
        now = self._clock()
        hold = Hold(
            hold_id=hold_id_for(request.holder_id, request.request_id),
            trip_id=trip.trip_id,
            seat_numbers=request.seat_numbers,
            span=request.span,
            holder_id=request.holder_id,
            state=HoldState.ACTIVE,
            expire_time=expiry(now, request.ttl),
            total_price=hold_price(trip, request.seat_numbers, request.span),
            request_id=request.request_id,
        )
        for _ in range(_ATTEMPTS):
            async with redis_guard():
                outcome = await self._index.hold(hold, to_ms(now), to_ms(hold.expire_time), self._limit)
            if outcome.status == "NOINDEX":
                await self._builder.ensure(trip.trip_id)
                continue
            if outcome.status in ("TAKEN", "LIMIT"):
                return await self._refused(hold, outcome)
            if outcome.status == "DUP":
                stored = await self._resume(hold, outcome, now)
            else:
                stored = await self._persist(hold, outcome.epoch, now)
            if stored is not None:
                return stored
            await self._builder.ensure(trip.trip_id)
        raise Unavailable("the trip's seat index kept changing; retry", reason="SEAT_INDEX_REBUILDING")

    async def _persist(self, hold: Hold, epoch: str, now: datetime) -> Hold | None:
        """Writes a freshly claimed hold; None when the index was rebuilt meanwhile (claim again)."""
        write = asyncio.ensure_future(
            self._committer.run_batched(store.insert_holds, store.ClaimedHold(hold, epoch, now))
        )
        try:
            stored, inserted = await asyncio.shield(write)
        except asyncio.CancelledError:
            # The caller left: the write goes on, and the claim is undone only if the write fails.
            settling = asyncio.ensure_future(self._settle(write, hold, now))
            self._settling.add(settling)
            settling.add_done_callback(self._settling.discard)
            raise
        except Exception as error:
            await self._undo(hold, now)
            if isinstance(error, POSTGRES_OUTAGES):
                raise postgres_unavailable() from error
            raise
        if inserted:
            self._metrics.holds_won.inc()
            log.debug("seats_held", trip_id=hold.trip_id, hold_id=hold.hold_id, seats=len(hold.seat_numbers))
            return hold
        if stored is None:
            return None
        if not (stored.is_active(now) and stored.same_request(hold)):
            await self._undo(hold, now)  # an earlier attempt of this request already ended
        return self._same_request(stored, hold)

    async def _settle(
        self, write: asyncio.Future[tuple[Hold | None, bool]], hold: Hold, now: datetime
    ) -> None:
        try:
            await write
        except Exception:  # noqa: BLE001 - the write failed, so its claim must go
            await self._undo(hold, now)

    async def _resume(self, hold: Hold, outcome: HoldOutcome, now: datetime) -> Hold | None:
        """The index already holds this hold's claim: an earlier attempt, finished or not."""
        existing = await self._read(lambda conn: store.get_hold(conn, hold.hold_id))
        if existing is not None:
            return self._same_request(existing, hold)
        claim = outcome.claim
        if claim is not None and not claim.sold and claim.expire_ms > to_ms(now):
            return await self._persist(
                dataclasses.replace(hold, expire_time=from_ms(claim.expire_ms)), outcome.epoch, now
            )
        await self._undo(hold, now)
        return None

    async def _refused(self, hold: Hold, outcome: HoldOutcome) -> Hold:
        if hold.request_id:
            existing = await self._read(lambda conn: store.get_hold(conn, hold.hold_id))
            if existing is not None:
                return self._same_request(existing, hold)
        if outcome.status == "TAKEN":
            raise SeatUnavailable(outcome.taken)
        raise FailedPrecondition(
            f"a holder may hold or buy at most {self._limit} seats of a trip",
            reason="MAX_PER_HOLDER_EXCEEDED",
            metadata={"limit": str(self._limit), "held_or_sold": str(outcome.already_held)},
        )

    @staticmethod
    def _same_request(existing: Hold, requested: Hold) -> Hold:
        if not existing.same_request(requested):
            raise IdempotencyKeyReused(
                "request_id was already used for another hold",
                field_violations=[("request_id", "was used before with different seats, stops or trip")],
            )
        return existing

    async def _undo(self, hold: Hold, now: datetime) -> None:
        try:
            await self._index.release(hold, ChangeKind.RELEASED, to_ms(now))
        except REDIS_OUTAGES:
            self._builder.dirty.add(hold.trip_id)
            log.warning("hold_claim_not_undone", trip_id=hold.trip_id, hold_id=hold.hold_id)

    # Release, commit, return

    async def release(self, hold_id: str) -> Hold:
        """Releases an active hold; a hold no longer active is returned unchanged."""
        require(hold_id, "hold_id")
        now = self._clock()
        hold, changed = await self._write(lambda conn: store.release_hold(conn, hold_id, now))
        if hold is None:
            raise NotFound(f"hold {hold_id} does not exist", metadata={"hold_id": hold_id})
        if changed:
            kind = ChangeKind.RELEASED if hold.state is HoldState.RELEASED else ChangeKind.EXPIRED
            await self._builder.update(hold.trip_id, lambda: self._index.release(hold, kind, to_ms(now)))
            log.debug("hold_released", trip_id=hold.trip_id, hold_id=hold_id, state=hold.state.value)
        return hold

    async def commit(self, hold_id: str, booking_id: str) -> Hold:
        """Sells a hold's seats to a booking exactly once; PostgreSQL decides."""
        require(hold_id, "hold_id")
        require(booking_id, "booking_id")
        now = self._clock()
        result = await self._write(lambda conn: store.commit_hold(conn, hold_id, booking_id, now))
        hold = result.hold
        if hold is None:
            raise NotFound(f"hold {hold_id} does not exist", metadata={"hold_id": hold_id})
        if result.committed_now:
            self._metrics.seats_sold.inc(len(hold.seat_numbers))
            await self._builder.update(hold.trip_id, lambda: self._index.sell(hold, to_ms(now)))
            log.info("hold_committed", trip_id=hold.trip_id, hold_id=hold_id, booking_id=booking_id)
            return hold
        if result.seats_lost:
            # Two active holds overlapped, which the index should have refused: rebuild it from the truth.
            self._builder.dirty.add(hold.trip_id)
            kind = ChangeKind.RELEASED if hold.state is HoldState.RELEASED else ChangeKind.EXPIRED
            await self._builder.update(hold.trip_id, lambda: self._index.release(hold, kind, to_ms(now)))
            raise FailedPrecondition(
                f"seats already sold: {', '.join(result.seats_lost)}",
                reason="SEAT_SOLD",
                metadata={"seats": ",".join(result.seats_lost), "hold_id": hold_id},
            )
        if hold.state is HoldState.COMMITTED:
            if hold.booking_id == booking_id:
                return hold
            raise FailedPrecondition(
                "the hold was committed to another booking",
                reason="HOLD_ALREADY_COMMITTED",
                metadata={"hold_id": hold_id},
            )
        raise FailedPrecondition(
            f"hold {hold_id} has expired or was released",
            reason="HOLD_EXPIRED",
            metadata={"hold_id": hold_id},
        )

    async def return_seats(self, booking_id: str) -> tuple[str, tuple[str, ...]]:
        """Returns a cancelled booking's sold seats to stock; returns the trip and the seats."""
        require(booking_id, "booking_id")
        now = self._clock()
        returned = await self._write(lambda conn: store.return_sales(conn, booking_id, now))
        for hold, seats in returned:
            await self._builder.update(hold.trip_id, partial(self._index.unsell, hold, seats, to_ms(now)))
            log.info("seats_returned", trip_id=hold.trip_id, hold_id=hold.hold_id, seats=len(seats))
        if not returned:
            return "", ()
        every_seat = sorted({seat for _, seats in returned for seat in seats})
        return returned[0][0].trip_id, tuple(every_seat)

    async def _write(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        async with postgres_guard():
            return await self._committer.run(work)

    async def _read(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        async with postgres_guard(), self._pool.connection() as conn:
            return await work(conn)
