"""ListTrips filters and opaque page tokens: base64 of the last sort key, bound to the filters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.errors import InvalidArgument
from seat_service.validation import Violations

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TripFilter:
    """Which trips a listing asks for; `operator_id` ("" for every operator) is set by the server."""

    origin: str = ""
    destination: str = ""
    departure_after: datetime | None = None
    departure_before: datetime | None = None
    operator_id: str = ""

    def fingerprint(self) -> str:
        """A short digest of the filters, so a token is only valid for the listing that made it."""
        parts = [
            self.origin,
            self.destination,
            _iso(self.departure_after),
            _iso(self.departure_before),
            self.operator_id,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PageKey:
    """The sort key of the last trip of a page: departure time, then id."""

    departure_time: datetime
    trip_id: str


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def validate_listing(filters: TripFilter, page_size: int) -> int:
    """The page size to use; InvalidArgument for a bad size or an empty time window."""
    problems = Violations()
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        problems.add("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    if (
        filters.departure_after is not None
        and filters.departure_before is not None
        and filters.departure_before <= filters.departure_after
    ):
        problems.add("departure_before", "must be after departure_after")
    problems.raise_if_any("the listing request is not valid")
    return page_size or DEFAULT_PAGE_SIZE


def encode_page_token(key: PageKey, filters: TripFilter) -> str:
    """The opaque token that continues a listing after `key`."""
    micros = (key.departure_time - _EPOCH) // timedelta(microseconds=1)
    payload = json.dumps({"d": micros, "i": key.trip_id, "f": filters.fingerprint()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_page_token(token: str, filters: TripFilter) -> PageKey | None:
    """The sort key a token continues after, None for no token; InvalidArgument for a bad one."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        micros, trip_id, fingerprint = payload["d"], payload["i"], payload["f"]
        if not isinstance(micros, int) or not isinstance(trip_id, str) or not isinstance(fingerprint, str):
            raise TypeError("bad field types")
        departure = _EPOCH + timedelta(microseconds=micros)
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError, UnicodeDecodeError):
        raise InvalidArgument(
            "page_token is not valid", field_violations=[("page_token", "is not a token this service issued")]
        ) from None
    if fingerprint != filters.fingerprint():
        raise InvalidArgument(
            "page_token belongs to another listing",
            field_violations=[("page_token", "was issued for different filters")],
        )
    return PageKey(departure, trip_id)
