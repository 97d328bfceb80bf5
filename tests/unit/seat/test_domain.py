"""Segments, pricing, seat states and derived ids."""

from datetime import UTC, datetime, timedelta

import pytest

from seat_service.demo import demo_trip
from seat_service.domain import (
    Claim,
    Money,
    SeatClass,
    SeatState,
    Span,
    expiry,
    from_ms,
    hold_id_for,
    hold_price,
    price_for,
    seat_state,
    seat_statuses,
    to_ms,
    trip_id_for,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_span_covers_the_segments_between_its_stops() -> None:
    assert list(Span(0, 1).segments) == [0]
    assert list(Span(1, 3).segments) == [1, 2]


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        (Span(0, 1), Span(1, 3), False),  # sold A->B leaves B->D free
        (Span(0, 1), Span(0, 2), True),  # but A->C is taken
        (Span(1, 2), Span(0, 3), True),
        (Span(2, 3), Span(0, 2), False),
    ],
)
def test_spans_overlap_only_when_they_share_a_segment(first: Span, second: Span, overlap: bool) -> None:
    assert first.overlaps(second) is overlap
    assert second.overlaps(first) is overlap


def test_a_span_with_its_own_fare_costs_that_fare() -> None:
    trip = demo_trip(now=NOW)
    assert price_for(trip, SeatClass.STANDARD, Span(0, 3)) == Money(3000, "EUR")
    assert price_for(trip, SeatClass.PREMIUM, Span(0, 3)) == Money(4500, "EUR")


def test_a_span_without_its_own_fare_costs_the_sum_of_its_segments() -> None:
    trip = demo_trip(now=NOW)
    assert price_for(trip, SeatClass.STANDARD, Span(0, 1)) == Money(900, "EUR")
    assert price_for(trip, SeatClass.STANDARD, Span(0, 2)) == Money(2100, "EUR")
    assert price_for(trip, SeatClass.PREMIUM, Span(1, 3)) == Money(4000, "EUR")


def test_a_hold_costs_the_sum_of_its_seats() -> None:
    trip = demo_trip(now=NOW)
    assert hold_price(trip, ["1A", "5C"], Span(1, 2)) == Money(1800 + 1200, "EUR")


def test_the_worst_claim_of_a_seat_decides_its_state() -> None:
    now_ms = to_ms(NOW)
    held = Claim(sold=False, hold_id="h1", expire_ms=now_ms + 1)
    expired = Claim(sold=False, hold_id="h2", expire_ms=now_ms)
    sold = Claim(sold=True, hold_id="h3")
    assert seat_state([None, None], now_ms) is SeatState.AVAILABLE
    assert seat_state([None, held], now_ms) is SeatState.HELD
    assert seat_state([expired, None], now_ms) is SeatState.AVAILABLE
    assert seat_state([held, sold], now_ms) is SeatState.SOLD


def test_seat_statuses_keep_layout_order_and_price_each_seat() -> None:
    trip = demo_trip(now=NOW)
    statuses = seat_statuses(trip, Span(0, 1), {"2B": SeatState.SOLD}, ["3A", "2B"])
    assert [(s.seat.seat_number, s.state, s.price.amount_minor) for s in statuses] == [
        ("2B", SeatState.SOLD, 1400),
        ("3A", SeatState.AVAILABLE, 900),
    ]


def test_hold_and_trip_ids_are_derived_from_the_request_key() -> None:
    assert hold_id_for("alice", "r1") == hold_id_for("alice", "r1")
    assert hold_id_for("alice", "r1") != hold_id_for("bob", "r1")
    assert hold_id_for("alice", "") != hold_id_for("alice", "")
    assert trip_id_for("op", "r1") == trip_id_for("op", "r1") != trip_id_for("other", "r1")


def test_expiry_is_kept_to_the_millisecond_both_ways() -> None:
    moment = expiry(datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC), timedelta(seconds=30))
    assert moment == datetime(2026, 1, 1, 0, 0, 30, 123000, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment
