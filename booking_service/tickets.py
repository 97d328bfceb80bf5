"""Signed ticket codes that a scanner verifies offline.

A code is `FBT1.<payload>.<signature>`: base64url of compact JSON claims, and base64url of an
Ed25519 signature over `FBT1.<payload>`. Ed25519 rather than HMAC, so a scanner holds only the
public key and cannot mint tickets. Any change to the code fails verification.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from booking_service.domain import Booking, Ticket, ticket_id_for

PREFIX = "FBT1"


class InvalidTicket(ValueError):
    """The code is malformed, or its signature does not match its claims."""


@dataclass(frozen=True)
class TicketClaims:
    """What a ticket code asserts."""

    ticket_id: str
    booking_id: str
    trip_id: str
    seat_number: str
    passenger_name: str
    from_stop: str
    to_stop: str


class TicketSigner:
    """Signs ticket codes with the service's Ed25519 key."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key scanners verify with."""
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, claims: TicketClaims) -> str:
        """The signed code for `claims`."""
        payload = _b64(json.dumps(asdict(claims), sort_keys=True, separators=(",", ":")).encode())
        signed = f"{PREFIX}.{payload}"
        return f"{signed}.{_b64(self._key.sign(signed.encode()))}"

    def issue(self, booking: Booking) -> list[Ticket]:
        """One ticket per passenger of a booking, each with its signed code."""
        tickets = []
        for passenger in booking.passengers:
            ticket_id = ticket_id_for(booking.booking_id, passenger.seat_number)
            claims = TicketClaims(
                ticket_id=ticket_id,
                booking_id=booking.booking_id,
                trip_id=booking.trip_id,
                seat_number=passenger.seat_number,
                passenger_name=passenger.full_name,
                from_stop=booking.from_stop,
                to_stop=booking.to_stop,
            )
            tickets.append(Ticket(ticket_id, passenger.seat_number, passenger.full_name, self.sign(claims)))
        return tickets


def verify_ticket_code(code: str, public_key: bytes) -> TicketClaims:
    """The claims of a genuine code, checked offline with the public key; InvalidTicket otherwise."""
    parts = code.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidTicket("not a Farebox ticket code")
    try:
        signature = _unb64(parts[2])
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, f"{parts[0]}.{parts[1]}".encode())
        claims = json.loads(_unb64(parts[1]))
        return TicketClaims(**claims)
    except InvalidSignature:
        raise InvalidTicket("the ticket's signature does not match") from None
    except (binascii.Error, ValueError, TypeError):
        raise InvalidTicket("the ticket code is malformed") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict base64url: only the canonical spelling of some bytes is accepted."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data
