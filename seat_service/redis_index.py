"""The seat index in Redis: typed wrappers over the Lua scripts in `lua/`, and the index's load.

Every key of one trip shares the hash tag `{<trip_id>}`, so the scripts work unchanged on Redis
Cluster:

    seat:{<trip>}:index              hash: "<seat>|<segment>" -> claim, and "epoch" once loaded
    seat:{<trip>}:holder:<holder>    zset: "<seats>:<hold_id>" -> expiry ms (+inf once sold)
    seat:{<trip>}:events             pub/sub channel of the trip's seat changes

The index is rebuildable from PostgreSQL (see `rebuild`); a script that finds no "epoch" answers
NOINDEX instead of acting on a partial index.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from common.batching import Batcher, Pending
from common.redis_scripts import LuaScript
from seat_service.domain import ChangeKind, Claim, Hold, IndexSnapshot, Span, to_ms

EPOCH_FIELD = "epoch"


def index_key(trip_id: str) -> str:
    """The hash of a trip's claims."""
    return f"seat:{{{trip_id}}}:index"


def holder_key(trip_id: str, holder_id: str) -> str:
    """The sorted set of one holder's holds and purchases on a trip."""
    return f"seat:{{{trip_id}}}:holder:{holder_id}"


def events_channel(trip_id: str) -> str:
    """The pub/sub channel of a trip's seat changes."""
    return f"seat:{{{trip_id}}}:events"


def claim_field(seat_number: str, segment: int) -> str:
    """The index field of one seat-segment."""
    return f"{seat_number}|{segment}"


def claim_fields(seat_numbers: Iterable[str], span: Span) -> list[str]:
    """The index fields of some seats over a span."""
    return [claim_field(seat, segment) for seat in seat_numbers for segment in span.segments]


def parse_claim(raw: bytes | str | None) -> Claim | None:
    """A claim as the scripts write it, or None for a free seat-segment."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    kind, hold_id, expire = text.split(":")
    return Claim(sold=kind == "S", hold_id=hold_id, expire_ms=int(expire))


@dataclass(frozen=True)
class SeatEvent:
    """A change published on a trip's channel by the script that made it."""

    kind: ChangeKind
    seat_numbers: tuple[str, ...]
    span: Span
    at_ms: int

    def encode(self) -> str:
        """The JSON the scripts publish."""
        return json.dumps(
            {"kind": self.kind.value, "seats": self.seat_numbers, "span": [self.span.start, self.span.end],
             "at": self.at_ms},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes | str) -> SeatEvent:
        """Parses a published event."""
        data = json.loads(raw)
        return cls(ChangeKind(data["kind"]), tuple(data["seats"]), Span(*data["span"]), int(data["at"]))


@dataclass(frozen=True)
class HoldOutcome:
    """What the hold script did: OK, TAKEN, LIMIT, DUP or NOINDEX."""

    status: str
    epoch: str = ""
    taken: tuple[str, ...] = ()
    already_held: int = 0
    claim: Claim | None = None


@dataclass(frozen=True)
class HoldClaim:
    """A hold to claim: its seats until `expire_ms`, as of `now_ms`, within the holder's `limit`."""

    hold: Hold
    now_ms: int
    expire_ms: int
    limit: int


class SeatIndex:
    """The Redis side of the seat inventory: one atomic script per operation.

    Concurrent holds are claimed in batches (`common.batching`): one script call per trip claims
    every hold queued for it, each all or nothing, in the order they came.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._scripts = {
            name: LuaScript(self.redis, "seat_service", name)
            for name in ("hold", "release", "sell", "unsell")
        }
        self._claims: Batcher[HoldClaim, HoldOutcome] = Batcher(self._claim)

    async def close(self) -> None:
        """Stops claiming once the queued holds are claimed."""
        await self._claims.close()

    async def hold(self, hold: Hold, now_ms: int, expire_ms: int, limit: int) -> HoldOutcome:
        """Claims every seat-segment of a hold, or none; publishes HELD when it did."""
        return await self._claims.submit(HoldClaim(hold, now_ms, expire_ms, limit))

    async def _claim(self, batch: list[Pending[HoldClaim, HoldOutcome]]) -> None:
        by_trip: dict[str, list[Pending[HoldClaim, HoldOutcome]]] = {}
        for pending in batch:
            by_trip.setdefault(pending.item.hold.trip_id, []).append(pending)
        await asyncio.gather(*(self._claim_trip(trip_id, group) for trip_id, group in by_trip.items()))

    async def _claim_trip(self, trip_id: str, group: list[Pending[HoldClaim, HoldOutcome]]) -> None:
        keys = [index_key(trip_id)]
        specs: list[list[Any]] = []
        for pending in group:
            claim = pending.item
            hold = claim.hold
            event = SeatEvent(ChangeKind.HELD, hold.seat_numbers, hold.span, claim.now_ms)
            keys.append(holder_key(trip_id, hold.holder_id))
            specs.append([
                str(claim.now_ms), str(claim.expire_ms), hold.hold_id, str(claim.limit),
                str(len(hold.seat_numbers)), event.encode(), claim_fields(hold.seat_numbers, hold.span),
            ])  # fmt: skip
        try:
            replies = await self._scripts["hold"](keys, [events_channel(trip_id), json.dumps(specs)])
        except Exception as error:  # noqa: BLE001 - handed to every hold of the trip
            for pending in group:
                pending.fail(error)
            return
        if replies and isinstance(replies[0], bytes):  # NOINDEX: the trip's index is not loaded
            replies = [replies] * len(group)
        for pending, reply in zip(group, replies, strict=True):
            pending.resolve(_hold_outcome([item.decode() for item in reply]))

    async def release(self, hold: Hold, kind: ChangeKind, now_ms: int) -> bool:
        """Frees a hold's unsold claims and publishes `kind`; False when the index is not loaded."""
        return await self.release_many([hold], kind, now_ms)

    async def release_many(self, holds: Sequence[Hold], kind: ChangeKind, now_ms: int) -> bool:
        """Frees the unsold claims of some holds of one trip in one call, publishing `kind` for each;
        False when the index is not loaded."""
        trip_id = holds[0].trip_id
        keys = [index_key(trip_id)]
        specs: list[list[Any]] = []
        for hold in holds:
            event = SeatEvent(kind, hold.seat_numbers, hold.span, now_ms)
            keys.append(holder_key(trip_id, hold.holder_id))
            specs.append([
                hold.hold_id, str(len(hold.seat_numbers)), event.encode(),
                claim_fields(hold.seat_numbers, hold.span),
            ])  # fmt: skip
        reply = await self._scripts["release"](keys, [events_channel(trip_id), json.dumps(specs)])
        return int(reply) >= 0

    async def sell(self, hold: Hold, now_ms: int) -> bool:
        """Marks a committed hold's claims sold and publishes SOLD; False when not loaded."""
        return await self._run("sell", hold, hold.seat_numbers, ChangeKind.SOLD, now_ms)

    async def unsell(self, hold: Hold, seat_numbers: Sequence[str], now_ms: int) -> bool:
        """Returns sold claims to stock and publishes RETURNED; False when not loaded."""
        return await self._run("unsell", hold, seat_numbers, ChangeKind.RETURNED, now_ms)

    async def _run(
        self, script: str, hold: Hold, seat_numbers: Sequence[str], kind: ChangeKind, now_ms: int
    ) -> bool:
        event = SeatEvent(kind, tuple(seat_numbers), hold.span, now_ms)
        args: list[Any] = [
            hold.hold_id, len(hold.seat_numbers), events_channel(hold.trip_id), event.encode(),
            *claim_fields(seat_numbers, hold.span),
        ]  # fmt: skip
        keys = [index_key(hold.trip_id), holder_key(hold.trip_id, hold.holder_id)]
        return int(await self._scripts[script](keys, args)) >= 0

    async def claims(self, trip_id: str, fields: Sequence[str]) -> list[Claim | None] | None:
        """The claims on some fields, or None when the trip's index is not loaded."""
        values = await self.redis.hmget(index_key(trip_id), [EPOCH_FIELD, *fields])
        if values[0] is None:
            return None
        return [parse_claim(value) for value in values[1:]]

    async def epoch(self, trip_id: str) -> str | None:
        """The generation of a trip's loaded index, or None when it is not loaded."""
        value = await self.redis.hget(index_key(trip_id), EPOCH_FIELD)
        return value.decode() if isinstance(value, bytes) else value

    async def invalidate(self, trip_id: str) -> None:
        """Marks a trip's index not loaded, so the next operation rebuilds it."""
        await self.redis.hdel(index_key(trip_id), EPOCH_FIELD)

    async def load(self, snapshot: IndexSnapshot, epoch: str) -> None:
        """Replaces a trip's index with the snapshot, atomically, marked loaded with `epoch`."""
        trip_id = snapshot.trip_id
        await self.invalidate(trip_id)
        stale = [key async for key in self.redis.scan_iter(match=f"seat:{{{trip_id}}}:holder:*", count=1000)]
        claims: dict[str, str] = {}
        holders: dict[str, dict[str, float]] = {}
        for hold in snapshot.active_holds:
            expire_ms = to_ms(hold.expire_time)
            for name in claim_fields(hold.seat_numbers, hold.span):
                claims[name] = f"H:{hold.hold_id}:{expire_ms}"
            member = f"{len(hold.seat_numbers)}:{hold.hold_id}"
            holders.setdefault(hold.holder_id, {})[member] = expire_ms
        for sale in snapshot.sold:
            claims[claim_field(sale.seat_number, sale.segment)] = f"S:{sale.hold_id}:0"
            holders.setdefault(sale.holder_id, {})[f"{sale.hold_seat_count}:{sale.hold_id}"] = float("inf")
        claims[EPOCH_FIELD] = epoch
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(index_key(trip_id), *stale)
            pipe.hset(index_key(trip_id), mapping=claims)  # type: ignore[arg-type]
            for holder_id, members in holders.items():
                pipe.zadd(holder_key(trip_id, holder_id), members)
            await pipe.execute()


def _hold_outcome(reply: list[str]) -> HoldOutcome:
    status = reply[0]
    if status == "OK":
        return HoldOutcome(status, epoch=reply[1])
    if status == "TAKEN":
        return HoldOutcome(status, taken=tuple(reply[1:]))
    if status == "LIMIT":
        return HoldOutcome(status, already_held=int(reply[1]))
    if status == "DUP":
        return HoldOutcome(status, epoch=reply[2], claim=parse_claim(reply[1]))
    return HoldOutcome(status)
