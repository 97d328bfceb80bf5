"""Booking rules: transitions, reservation validation, limits, refund cutoff, keys and page tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking_service.domain import (
    TRANSITIONS,
    BookingStatus,
    Limits,
    PageCursor,
    Passenger,
    ReservationRequest,
    booking_id_for,
    check_pending_limit,
    check_refundable,
    decode_page_token,
    encode_page_token,
    page_size_of,
    payment_request_id_for,
    sources_of,
    validate_reservation,
)
from common.errors import FailedPrecondition, InvalidArgument

LIMITS = Limits(max_pending_per_user=2, max_seats_per_booking=3)


def request(**changes: object) -> ReservationRequest:
    values: dict[str, object] = {
        "owner_id": "alice",
        "request_id": "r1",
        "trip_id": "trip-1",
        "seat_numbers": ("1A", "1B"),
        "from_stop": "AMS",
        "to_stop": "BER",
        "passengers": (Passenger("Alice", "1A"), Passenger("Bob", "1B")),
    }
    values.update(changes)
    return ReservationRequest(**values)  # type: ignore[arg-type]


def test_finished_bookings_never_change() -> None:
    assert TRANSITIONS[BookingStatus.CANCELLED] == frozenset()
    assert TRANSITIONS[BookingStatus.EXPIRED] == frozenset()
    assert TRANSITIONS[BookingStatus.CONFIRMED] == {BookingStatus.CANCELLED}


def test_only_a_confirmation_in_progress_confirms() -> None:
    assert sources_of(BookingStatus.CONFIRMED) == (BookingStatus.CONFIRMING,)
    assert set(sources_of(BookingStatus.CONFIRMING)) == {BookingStatus.PENDING, BookingStatus.PAYMENT_FAILED}


def test_a_valid_request_passes() -> None:
    validate_reservation(request(), LIMITS)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"trip_id": ""}, "trip_id"),
        ({"from_stop": ""}, "from_stop"),
        ({"to_stop": "AMS"}, "to_stop"),
        ({"seat_numbers": ()}, "seat_numbers"),
        ({"seat_numbers": ("1A", "1A")}, "seat_numbers"),
        ({"passengers": (Passenger("Alice", "1A"),)}, "passengers"),
        ({"passengers": (Passenger("Alice", "1A"), Passenger("Bob", "9Z"))}, "passengers"),
        ({"passengers": (Passenger(" ", "1A"), Passenger("Bob", "1B"))}, "passengers[0].full_name"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_reservation(request(**changes), LIMITS)
    assert field in [name for name, _ in caught.value.field_violations]


def test_too_many_seats_is_a_failed_precondition() -> None:
    seats = ("1A", "1B", "1C", "1D")
    passengers = tuple(Passenger(f"P{seat}", seat) for seat in seats)
    with pytest.raises(FailedPrecondition) as caught:
        validate_reservation(request(seat_numbers=seats, passengers=passengers), LIMITS)
    assert caught.value.reason == "TOO_MANY_SEATS"


def test_pending_limit() -> None:
    check_pending_limit(1, LIMITS)
    with pytest.raises(FailedPrecondition) as caught:
        check_pending_limit(2, LIMITS)
    assert caught.value.reason == "TOO_MANY_PENDING_BOOKINGS"


def test_refunds_stop_at_the_cutoff() -> None:
    departure = datetime(2030, 1, 1, 12, tzinfo=UTC)
    check_refundable(departure, departure - timedelta(hours=3), timedelta(hours=2))
    with pytest.raises(FailedPrecondition) as caught:
        check_refundable(departure, departure - timedelta(hours=1), timedelta(hours=2))
    assert caught.value.reason == "CANCELLATION_CUTOFF_PASSED"


def test_keys_are_derived_not_random() -> None:
    assert booking_id_for("alice", "r1") == booking_id_for("alice", "r1")
    assert booking_id_for("alice", "r1") != booking_id_for("bob", "r1")
    assert payment_request_id_for("b", 1) != payment_request_id_for("b", 2)


def test_page_tokens_round_trip() -> None:
    cursor = PageCursor(create_time_us=1_700_000_000_123_456, booking_id="b-1")
    assert decode_page_token(encode_page_token(cursor)) == cursor


@pytest.mark.parametrize("token", ["not-base64!", "e30", "eyJ2IjoyLCJ0IjoxLCJpZCI6ImIifQ", "W10"])
def test_foreign_page_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_page_token(token)
    assert caught.value.field_violations[0][0] == "page_token"


@pytest.mark.parametrize(("requested", "size"), [(0, 20), (1, 1), (100, 100)])
def test_page_sizes(requested: int, size: int) -> None:
    assert page_size_of(requested) == size


@pytest.mark.parametrize("requested", [-1, 101])
def test_page_sizes_out_of_range(requested: int) -> None:
    with pytest.raises(InvalidArgument):
        page_size_of(requested)
