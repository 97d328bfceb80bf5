"""Ticket codes verify offline with the public key; any tampering fails."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from booking_service.domain import Booking, BookingStatus, Money, Passenger
from booking_service.tickets import InvalidTicket, TicketSigner, verify_ticket_code

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def signer() -> TicketSigner:
    return TicketSigner(os.urandom(32))


def booking() -> Booking:
    return Booking(
        booking_id="b-1",
        owner_id="alice",
        request_id="r1",
        trip_id="trip-1",
        seat_numbers=("1A", "1B"),
        from_stop="AMS",
        to_stop="BER",
        passengers=(Passenger("Alice", "1A"), Passenger("Bob", "1B")),
        total=Money(2500, "EUR"),
        status=BookingStatus.CONFIRMING,
        hold_id="h-1",
        hold_expire_time=NOW,
        failure_reason="",
        create_time=NOW,
        update_time=NOW,
    )


def test_one_ticket_per_passenger_that_verifies_offline(signer: TicketSigner) -> None:
    tickets = signer.issue(booking())
    assert [(t.seat_number, t.passenger_name) for t in tickets] == [("1A", "Alice"), ("1B", "Bob")]
    claims = verify_ticket_code(tickets[1].code, signer.public_key)
    assert (claims.booking_id, claims.seat_number, claims.passenger_name, claims.trip_id) == (
        "b-1", "1B", "Bob", "trip-1")  # fmt: skip
    assert claims.ticket_id == tickets[1].ticket_id


def test_issuing_again_gives_the_same_ticket_ids(signer: TicketSigner) -> None:
    first, second = signer.issue(booking()), signer.issue(booking())
    assert [t.ticket_id for t in first] == [t.ticket_id for t in second]


def test_every_changed_character_fails(signer: TicketSigner) -> None:
    code = signer.issue(booking())[0].code
    for index in range(len(code)):
        replacement = "A" if code[index] != "A" else "B"
        tampered = code[:index] + replacement + code[index + 1 :]
        with pytest.raises(InvalidTicket):
            verify_ticket_code(tampered, signer.public_key)


def test_a_swapped_payload_fails(signer: TicketSigner) -> None:
    alice, bob = (t.code.split(".") for t in signer.issue(booking()))
    with pytest.raises(InvalidTicket):
        verify_ticket_code(f"{alice[0]}.{bob[1]}.{alice[2]}", signer.public_key)


def test_another_services_key_fails(signer: TicketSigner) -> None:
    code = signer.issue(booking())[0].code
    with pytest.raises(InvalidTicket):
        verify_ticket_code(code, TicketSigner(os.urandom(32)).public_key)


@pytest.mark.parametrize("code", ["", "FBT1", "FBT1.a.b.c", "XXX1.e30.AAAA", "FBT1.!!.AAAA"])
def test_malformed_codes_fail(signer: TicketSigner, code: str) -> None:
    with pytest.raises(InvalidTicket):
        verify_ticket_code(code, signer.public_key)
