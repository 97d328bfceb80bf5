"""Holds claimed together in one batch (one Lua call per trip): each all or nothing, first come first
served, against the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from seat_service.domain import Hold, HoldState, Money, Span, to_ms
from seat_service.redis_index import EPOCH_FIELD, SeatIndex, index_key

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _hold(trip_id: str, seats: tuple[str, ...], holder: str = "") -> Hold:
    return Hold(
        hold_id=uuid.uuid4().hex, trip_id=trip_id, seat_numbers=seats, span=Span(0, 2),
        holder_id=holder or uuid.uuid4().hex, state=HoldState.ACTIVE,
        expire_time=NOW + timedelta(minutes=5), total_price=Money(100, "EUR"),
    )  # fmt: skip


async def _claim_together(index: SeatIndex, holds: list[Hold], limit: int = 6) -> list[str]:
    expire_ms = to_ms(NOW + timedelta(minutes=5))
    outcomes = await asyncio.gather(*(index.hold(hold, to_ms(NOW), expire_ms, limit) for hold in holds))
    return [outcome.status for outcome in outcomes]


async def test_holds_claimed_together_never_share_a_seat(redis: Redis) -> None:
    trip_id = uuid.uuid4().hex
    await redis.hset(index_key(trip_id), EPOCH_FIELD, "e1")
    index = SeatIndex(redis)
    try:
        racing = [_hold(trip_id, ("1A", "1B")) for _ in range(5)]
        overlapping = _hold(trip_id, ("1B", "1C"))
        elsewhere = _hold(trip_id, ("9D",))
        holds = [*racing, overlapping]
        statuses = await _claim_together(index, [*holds, elsewhere])
    finally:
        await index.close()

    assert Counter(statuses[:6]) == Counter({"OK": 1, "TAKEN": 5})
    assert statuses[6] == "OK"
    winner = next(hold for hold, status in zip(holds, statuses, strict=True) if status == "OK")
    owners = await redis.hmget(index_key(trip_id), ["1A|0", "1B|0", "1C|0"])
    held = [value.decode().split(":")[1] if value else None for value in owners]
    # the winner holds every seat-segment it asked for, and nothing of a loser was written
    assert held == [winner.hold_id if seat in winner.seat_numbers else None for seat in ("1A", "1B", "1C")]


async def test_the_holder_limit_counts_holds_of_the_same_batch(redis: Redis) -> None:
    trip_id = uuid.uuid4().hex
    await redis.hset(index_key(trip_id), EPOCH_FIELD, "e1")
    index = SeatIndex(redis)
    try:
        holds = [_hold(trip_id, (f"{row}A", f"{row}B"), holder="fan") for row in range(1, 5)]
        statuses = await _claim_together(index, holds, limit=6)
    finally:
        await index.close()

    assert statuses == ["OK", "OK", "OK", "LIMIT"]


async def test_a_batch_for_a_trip_whose_index_is_not_loaded_claims_nothing(redis: Redis) -> None:
    trip_id = uuid.uuid4().hex
    index = SeatIndex(redis)
    try:
        statuses = await _claim_together(index, [_hold(trip_id, ("1A",)), _hold(trip_id, ("2A",))])
    finally:
        await index.close()

    assert statuses == ["NOINDEX", "NOINDEX"]
    assert await redis.hlen(index_key(trip_id)) == 0
