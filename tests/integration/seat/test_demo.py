"""The demo trip `make run` seeds: created once, then held and priced like any other trip."""

from __future__ import annotations

from seat_service.demo import DEMO_TRIP_ID, ensure_demo_trip
from tests.integration.seat.support import RunningSeatService, hold_request


async def test_the_demo_trip_is_created_once_and_sells(
    seat: RunningSeatService, seat_database_url: str
) -> None:
    first = await ensure_demo_trip(seat_database_url)
    again = await ensure_demo_trip(seat_database_url)
    assert again == first
    assert (first.trip_id, first.stop_codes, len(first.seats)) == (
        DEMO_TRIP_ID,
        ("AMS", "UTR", "ARN", "DUS"),
        40,
    )

    hold = (await seat.stub.HoldSeats(hold_request(DEMO_TRIP_ID, ["1A", "5C"], "AMS", "DUS"))).hold
    assert (hold.total_price.amount_minor, hold.total_price.currency_code) == (4500 + 3000, "EUR")
