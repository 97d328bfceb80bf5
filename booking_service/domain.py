"""Bookings and sagas as plain data, with their statuses, transitions and rules.

Prices are the seat service's: a booking records the total its hold was priced at.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from common.errors import FailedPrecondition, InvalidArgument

_IDS = uuid.UUID("6f1c1f0e-3a53-4a0e-9b57-8f4b1f0c2d11")


class BookingStatus(StrEnum):
    """Where a booking is in its life; the names match the contract's enum without its prefix."""

    PENDING = "PENDING"
    CONFIRMING = "CONFIRMING"
    CONFIRMED = "CONFIRMED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# The statuses a booking may move to from each status.
TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.PENDING: frozenset(
        {BookingStatus.CONFIRMING, BookingStatus.CANCELLED, BookingStatus.EXPIRED}
    ),
    BookingStatus.PAYMENT_FAILED: frozenset(
        {BookingStatus.CONFIRMING, BookingStatus.CANCELLED, BookingStatus.EXPIRED}
    ),
    BookingStatus.CONFIRMING: frozenset(
        {
            BookingStatus.CONFIRMED,
            BookingStatus.PAYMENT_FAILED,
            BookingStatus.PENDING,
            BookingStatus.EXPIRED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
}

# Bookings that still hold seats and count against the per-user pending limit.
OPEN_STATUSES = (BookingStatus.PENDING, BookingStatus.PAYMENT_FAILED, BookingStatus.CONFIRMING)


def sources_of(target: BookingStatus) -> tuple[BookingStatus, ...]:
    """Every status a booking may move to `target` from."""
    return tuple(status for status, targets in TRANSITIONS.items() if target in targets)


class SagaKind(StrEnum):
    """What a saga does."""

    CONFIRM = "CONFIRM"
    CANCEL = "CANCEL"


class SagaStep(StrEnum):
    """The next action of a saga; the row is written before the action is taken."""

    AUTHORIZE = "AUTHORIZE"
    COMMIT_HOLD = "COMMIT_HOLD"
    CAPTURE = "CAPTURE"
    RESOLVE = "RESOLVE"
    RETURN_PAYMENT = "RETURN_PAYMENT"
    RELEASE_SEATS = "RELEASE_SEATS"
    DONE = "DONE"


class SagaOutcome(StrEnum):
    """How a finished saga ended."""

    NONE = ""
    CONFIRMED = "CONFIRMED"
    DECLINED = "DECLINED"
    ABANDONED = "ABANDONED"
    COMPENSATED = "COMPENSATED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Money:
    """An amount in minor units of one currency."""

    amount_minor: int
    currency_code: str


@dataclass(frozen=True)
class Passenger:
    """One traveller and their seat."""

    full_name: str
    seat_number: str


@dataclass(frozen=True)
class Ticket:
    """One passenger's signed proof of travel."""

    ticket_id: str
    seat_number: str
    passenger_name: str
    code: str


@dataclass(frozen=True)
class Booking:
    """A traveller's booking of seats on a trip."""

    booking_id: str
    owner_id: str
    request_id: str
    trip_id: str
    seat_numbers: tuple[str, ...]
    from_stop: str
    to_stop: str
    passengers: tuple[Passenger, ...]
    total: Money
    status: BookingStatus
    hold_id: str
    hold_expire_time: datetime
    failure_reason: str
    create_time: datetime
    update_time: datetime
    tickets: tuple[Ticket, ...] = ()

    def same_request(self, request: ReservationRequest) -> bool:
        """Whether `request` asks for exactly what this booking was created with."""
        return (
            self.trip_id == request.trip_id
            and self.seat_numbers == request.seat_numbers
            and self.from_stop == request.from_stop
            and self.to_stop == request.to_stop
            and self.passengers == request.passengers
        )


@dataclass(frozen=True)
class Saga:
    """The durable state of one confirm or cancel saga of a booking."""

    saga_id: str
    booking_id: str
    attempt: int
    kind: SagaKind
    step: SagaStep
    request_id: str
    payment_request_id: str
    payment_token: str
    payment_id: str
    release_seats: bool
    target_status: BookingStatus | None
    outcome: SagaOutcome
    failure_reason: str
    failures: int


@dataclass(frozen=True)
class ReservationRequest:
    """What a traveller asks ReserveSeats for."""

    owner_id: str
    request_id: str
    trip_id: str
    seat_numbers: tuple[str, ...]
    from_stop: str
    to_stop: str
    passengers: tuple[Passenger, ...]


@dataclass(frozen=True)
class Limits:
    """The per-user limits on bookings."""

    max_pending_per_user: int
    max_seats_per_booking: int


@dataclass(frozen=True)
class Event:
    """A booking event written to the outbox in the transaction of the change it describes."""

    event_id: str
    booking_id: str
    event_type: str
    payload: dict[str, object] = field(default_factory=dict)


def booking_id_for(owner_id: str, request_id: str) -> str:
    """The booking id of an owner's reservation request, so a retried request finds its booking."""
    return str(uuid.uuid5(_IDS, f"{owner_id}\x1f{request_id}"))


def ticket_id_for(booking_id: str, seat_number: str) -> str:
    """The id of a booking's ticket for a seat."""
    return str(uuid.uuid5(_IDS, f"{booking_id}\x1f{seat_number}"))


def saga_id_for(booking_id: str, attempt: int) -> str:
    """The id of a booking's n-th saga."""
    return f"{booking_id}/{attempt}"


def payment_request_id_for(booking_id: str, attempt: int) -> str:
    """The idempotency key of a confirm attempt's authorization, derived from the booking and attempt."""
    return f"booking/{booking_id}/attempt/{attempt}/authorize"


def step_request_id(saga_id: str, action: str) -> str:
    """The idempotency key of one downstream action of a saga, the same on every retry."""
    return f"booking/{saga_id}/{action}"


def validate_reservation(request: ReservationRequest, limits: Limits) -> None:
    """Checks a reservation request; bad input -> InvalidArgument, over a limit -> FailedPrecondition."""
    violations: list[tuple[str, str]] = []
    if not request.request_id:
        violations.append(("request_id", "required"))
    if not request.trip_id:
        violations.append(("trip_id", "required"))
    if not request.from_stop:
        violations.append(("from_stop", "required"))
    if not request.to_stop:
        violations.append(("to_stop", "required"))
    elif request.to_stop == request.from_stop:
        violations.append(("to_stop", "must differ from from_stop"))
    seats = request.seat_numbers
    if not seats:
        violations.append(("seat_numbers", "at least one seat is required"))
    elif any(not seat for seat in seats):
        violations.append(("seat_numbers", "seat numbers must not be empty"))
    elif len(set(seats)) != len(seats):
        violations.append(("seat_numbers", "each seat at most once"))
    violations.extend(_passenger_violations(request.passengers, seats))
    if violations:
        raise InvalidArgument("invalid reservation request", field_violations=violations)
    if len(seats) > limits.max_seats_per_booking:
        raise FailedPrecondition(
            f"a booking holds at most {limits.max_seats_per_booking} seats",
            reason="TOO_MANY_SEATS",
            metadata={"limit": str(limits.max_seats_per_booking)},
        )


def _passenger_violations(passengers: Sequence[Passenger], seats: Sequence[str]) -> list[tuple[str, str]]:
    violations = [
        (f"passengers[{index}].full_name", "required")
        for index, passenger in enumerate(passengers)
        if not passenger.full_name.strip()
    ]
    if sorted(passenger.seat_number for passenger in passengers) != sorted(seats):
        violations.append(("passengers", "one passenger per seat, each naming one of seat_numbers"))
    return violations


def check_pending_limit(open_bookings: int, limits: Limits) -> None:
    """Refuses a new booking when the owner already has the most open bookings allowed."""
    if open_bookings >= limits.max_pending_per_user:
        raise FailedPrecondition(
            f"at most {limits.max_pending_per_user} unpaid bookings at a time",
            reason="TOO_MANY_PENDING_BOOKINGS",
            metadata={"limit": str(limits.max_pending_per_user)},
        )


def check_refundable(departure_time: datetime, now: datetime, cutoff: timedelta) -> None:
    """A confirmed booking is refundable until `cutoff` before departure."""
    if now > departure_time - cutoff:
        raise FailedPrecondition(
            "too close to departure to cancel with a refund",
            reason="CANCELLATION_CUTOFF_PASSED",
            metadata={"cutoff_seconds": str(int(cutoff.total_seconds()))},
        )


def event_for(booking: Booking) -> Event:
    """The event announcing a booking's current status."""
    return Event(
        event_id=str(uuid.uuid4()),
        booking_id=booking.booking_id,
        event_type=f"booking.{booking.status.lower()}",
        payload={
            "booking_id": booking.booking_id,
            "owner_id": booking.owner_id,
            "trip_id": booking.trip_id,
            "seat_numbers": list(booking.seat_numbers),
            "from_stop": booking.from_stop,
            "to_stop": booking.to_stop,
            "status": booking.status.value,
            "total_amount_minor": booking.total.amount_minor,
            "currency_code": booking.total.currency_code,
            "failure_reason": booking.failure_reason,
            "update_time": booking.update_time.isoformat(),
        },
    )


@dataclass(frozen=True)
class PageCursor:
    """Where a page of an owner's bookings, newest first, continues."""

    create_time_us: int
    booking_id: str


def encode_page_token(cursor: PageCursor) -> str:
    """An opaque token for the page after `cursor`."""
    raw = json.dumps({"v": 1, "t": cursor.create_time_us, "id": cursor.booking_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> PageCursor:
    """The cursor in a page token; anything malformed is INVALID_ARGUMENT on page_token."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != 1 or not isinstance(raw["t"], int) or not isinstance(raw["id"], str):
            raise ValueError(token)
        return PageCursor(create_time_us=raw["t"], booking_id=raw["id"])
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgument(
            "page_token is not a token this service issued",
            field_violations=[("page_token", "malformed or foreign page token")],
        ) from None


def page_size_of(requested: int) -> int:
    """The page size to use: 0 means 20; 1 to 100 are allowed."""
    if requested == 0:
        return 20
    if not 1 <= requested <= 100:
        raise InvalidArgument(
            "page_size must be between 1 and 100", field_violations=[("page_size", "must be 0 or 1 to 100")]
        )
    return requested
