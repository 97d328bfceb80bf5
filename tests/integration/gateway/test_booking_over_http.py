"""The HTTP mapping of a booking (trips -> seat map -> reserve -> confirm -> get) against in-memory fakes;
test_booking_with_real_services.py books against the real services."""

from __future__ import annotations

import aiohttp

from tests.integration.gateway.fakes import TOKEN, TRIP_ID, FakeBackends

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_books_a_seat_over_http_only(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway}/v1/trips", params={"origin": "AMS", "destination": "BER"}) as response:
        assert response.status == 200
        trips = (await response.json())["trips"]
    trip = trips[0]
    assert (trip["tripId"], trip["departureTime"]) == (TRIP_ID, "2027-01-15T08:00:00Z")
    assert trip["fares"][0]["price"] == {"amountMinor": "2500", "currencyCode": "EUR"}

    seat_map_url = f"{gateway}/v1/trips/{trip['tripId']}/seat-map"
    async with http.get(seat_map_url, params={"fromStop": "AMS", "to_stop": "BER"}) as response:
        seat_map = (await response.json())["seatMap"]
    assert (seat_map["fromStop"], seat_map["toStop"]) == ("AMS", "BER")
    seat = next(s for s in seat_map["seats"] if s["state"] == "SEAT_STATE_AVAILABLE")["seat"]["seatNumber"]

    reserve = {
        "tripId": trip["tripId"],
        "seatNumbers": [seat],
        "fromStop": "AMS",
        "to_stop": "BER",
        "passengers": [{"fullName": "Ada Lovelace", "seat_number": seat}],
        "comment": "unknown fields are ignored",
    }
    headers = {**AUTH, "Idempotency-Key": "reserve-1"}
    async with http.post(f"{gateway}/v1/bookings", json=reserve, headers=headers) as response:
        assert response.status == 200, await response.text()
        booking = (await response.json())["booking"]
    assert booking["status"] == "BOOKING_STATUS_PENDING"
    assert booking["totalPrice"] == {"amountMinor": "2500", "currencyCode": "EUR"}
    assert booking["passengers"] == [{"fullName": "Ada Lovelace", "seatNumber": seat}]
    assert booking["tickets"] == []

    async with http.post(f"{gateway}/v1/bookings", json=reserve, headers=headers) as response:
        assert (await response.json())["booking"]["bookingId"] == booking["bookingId"]
    assert backends.inventory.by_request_id == {"reserve-1": booking["bookingId"]}

    confirm_url = f"{gateway}/v1/bookings/{booking['bookingId']}:confirm"
    async with http.post(confirm_url, json={"paymentToken": "tok_visa"}, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        confirmed = (await response.json())["booking"]
    assert confirmed["status"] == "BOOKING_STATUS_CONFIRMED"
    assert [ticket["seatNumber"] for ticket in confirmed["tickets"]] == [seat]

    async with http.get(f"{gateway}/v1/bookings/{booking['bookingId']}", headers=AUTH) as response:
        assert (await response.json())["booking"]["status"] == "BOOKING_STATUS_CONFIRMED"
    async with http.get(seat_map_url, params={"fromStop": "AMS", "toStop": "BER"}) as response:
        states = {s["seat"]["seatNumber"]: s["state"] for s in (await response.json())["seatMap"]["seats"]}
    assert states[seat] == "SEAT_STATE_SOLD"


async def test_body_request_id_wins_over_idempotency_key(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    body = {"tripId": TRIP_ID, "seatNumbers": ["2B"], "requestId": "from-body"}
    headers = {**AUTH, "Idempotency-Key": "from-header"}
    async with http.post(f"{gateway}/v1/bookings", json=body, headers=headers) as response:
        assert response.status == 200
    assert set(backends.inventory.by_request_id) == {"from-body"}


async def test_a_body_field_rule_takes_the_body_and_the_query(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    trip = {"routeName": "Utrecht - Paris", "stops": [{"code": "UTC"}, {"code": "PAR"}]}
    url = f"{gateway}/v1/trips?requestId=create-1"
    async with http.post(url, json=trip, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        created = (await response.json())["trip"]
    assert created["routeName"] == "Utrecht - Paris"
    assert backends.inventory.trips[created["tripId"]].stops[1].code == "PAR"
