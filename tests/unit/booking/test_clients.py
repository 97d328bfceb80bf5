"""Downstream clients: retries on transient codes with the same key, breakers, deadlines, error mapping."""

from __future__ import annotations

import time
from datetime import timedelta

import grpc
import pybreaker
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as seat

from booking_service.clients import CurrentStub, Downstream
from common import errors
from common.request_context import deadline_var
from tests.unit.booking.fakes import FakeDownstreams, status_error
from tests.unit.booking.harness import Parts


async def hold(parts: Parts, trip_id: str, request_id: str = "hold-key", seat: str = "1A") -> object:
    return await parts.seat.hold_seats(
        trip_id=trip_id,
        seat_numbers=[seat],
        from_stop="AMS",
        to_stop="BER",
        holder_id="alice",
        ttl=timedelta(minutes=5),
        request_id=request_id,
    )


async def test_unavailable_is_retried_with_the_same_key(parts: Parts, fakes: FakeDownstreams) -> None:
    fakes.seats.add_trip("t1")
    fakes.seats.script.fail("HoldSeats", times=2)
    response = await hold(parts, "t1")
    assert response.hold.seat_numbers == ["1A"]
    keys = [request.request_id for request in fakes.seats.script.requests("HoldSeats")]
    assert keys == ["hold-key"] * 3


async def test_deadline_exceeded_is_retried_only_for_idempotent_calls(
    parts: Parts, fakes: FakeDownstreams
) -> None:
    fakes.seats.add_trip("t1")
    stub_call = parts.seat._stub.get().GetTrip
    fakes.seats.script.fail("GetTrip", times=1, failure=status_error(grpc.StatusCode.DEADLINE_EXCEEDED))
    with pytest.raises(errors.DeadlineExceeded):
        await parts.seat.downstream.call(stub_call, seat.GetTripRequest(trip_id="t1"), idempotent=False)
    assert fakes.seats.script.count("GetTrip") == 1

    fakes.seats.script.fail("GetTrip", times=1, failure=status_error(grpc.StatusCode.DEADLINE_EXCEEDED))
    response = await parts.seat.downstream.call(stub_call, seat.GetTripRequest(trip_id="t1"), idempotent=True)
    assert response.trip.trip_id == "t1"
    assert fakes.seats.script.count("GetTrip") == 3


async def test_business_errors_keep_their_reason_and_are_not_retried(
    parts: Parts, fakes: FakeDownstreams
) -> None:
    fakes.seats.add_trip("t1")
    await hold(parts, "t1", request_id="first")
    with pytest.raises(errors.Aborted) as caught:
        await hold(parts, "t1", request_id="second")
    assert caught.value.reason == "SEAT_UNAVAILABLE"
    assert caught.value.metadata["seats"] == "1A"
    assert caught.value.metadata["downstream"] == "seat_inventory"
    assert fakes.seats.script.count("HoldSeats") == 2


async def test_business_errors_never_open_the_breaker(parts: Parts, fakes: FakeDownstreams) -> None:
    for _ in range(10):
        with pytest.raises(errors.NotFound):
            await parts.payment.get_by_id("missing")
    assert parts.payment.downstream.breaker.current_state == pybreaker.STATE_CLOSED


async def test_the_breaker_opens_fails_fast_then_recovers(parts: Parts, fakes: FakeDownstreams) -> None:
    fakes.payments.script.fail("GetPayment", times=100)
    with pytest.raises(errors.Unavailable) as caught:
        await parts.payment.get_by_id("p1")
    assert caught.value.reason == "PAYMENT_UNAVAILABLE"
    assert caught.value.metadata == {"downstream": "payment", "breaker": "open"}
    calls = fakes.payments.script.count("GetPayment")
    assert calls == 3  # the breaker's fail_max

    with pytest.raises(errors.Unavailable) as again:
        await parts.payment.get_by_id("p1")
    assert again.value.metadata["breaker"] == "open"
    assert fakes.payments.script.count("GetPayment") == calls  # failed fast: nothing was sent

    fakes.payments.script.failures["GetPayment"].clear()
    parts.payment.downstream.breaker.half_open()  # as when the reset timeout has passed
    with pytest.raises(errors.NotFound):
        await parts.payment.get_by_id("p1")
    assert parts.payment.downstream.breaker.current_state == pybreaker.STATE_CLOSED


async def test_too_little_time_left_fails_fast(parts: Parts, fakes: FakeDownstreams) -> None:
    token = deadline_var.set(time.monotonic() + 0.02)
    try:
        with pytest.raises(errors.DeadlineExceeded):
            await parts.payment.get_by_id("p1")
    finally:
        deadline_var.reset(token)
    assert fakes.payments.script.count("GetPayment") == 0


async def test_calls_inherit_the_incoming_deadline_minus_a_margin(parts: Parts) -> None:
    seen: list[float] = []

    async def method(request: object, timeout: float) -> str:  # noqa: ASYNC109 - the stubs' keyword
        seen.append(timeout)
        return "ok"

    downstream = Downstream("probe", parts.seat.downstream.settings)
    token = deadline_var.set(time.monotonic() + 1.0)
    try:
        assert await downstream.call(method, object(), idempotent=True) == "ok"
    finally:
        deadline_var.reset(token)
    assert 0 < seen[0] < 1.0
    assert await downstream.call(method, object(), idempotent=True) == "ok"
    assert seen[1] == downstream.settings.attempt_timeout  # no incoming deadline: the configured bound


class SwappableChannels:
    """Stands in for a ReloadingChannel whose certificate gets renewed."""

    def __init__(self) -> None:
        self.current = object()

    def channel(self) -> object:
        return self.current


def test_calls_move_to_the_new_channel_after_a_certificate_renewal() -> None:
    channels = SwappableChannels()
    made: list[object] = []

    def make(channel: object) -> tuple[str, object]:
        made.append(channel)
        return ("stub", channel)

    stubs = CurrentStub(channels, make)  # type: ignore[arg-type]
    first = stubs.get()
    assert stubs.get() is first and len(made) == 1
    channels.current = object()  # the reloading channel replaced its channel
    assert stubs.get() == ("stub", channels.current) and len(made) == 2
