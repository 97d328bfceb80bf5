"""Operators see and use only their own tenant's trips; admins, services and travellers see all."""

from __future__ import annotations

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as api

from common.policy import Role
from tests.integration.seat.support import RunningSeatService, new_key, trip_message
from tests.support.auth import as_caller

ACME = as_caller(Role.ROLE_OPERATOR, subject="ops@acme", tenant="acme")
GLOBEX = as_caller(Role.ROLE_OPERATOR, subject="ops@globex", tenant="globex")


async def _trip_of(seat: RunningSeatService, operator: tuple[tuple[str, str], ...], route: str) -> str:
    message = trip_message(rows=1, stops=(f"{route}1", f"{route}2"))
    response = await seat.stub.CreateTrip(
        api.CreateTripRequest(trip=message, request_id=new_key()), metadata=operator
    )
    return str(response.trip.trip_id)


async def _listed(seat: RunningSeatService, caller: tuple[tuple[str, str], ...], origin: str) -> set[str]:
    response = await seat.stub.ListTrips(api.ListTripsRequest(origin=origin, page_size=50), metadata=caller)
    return {trip.trip_id for trip in response.trips}


async def test_another_tenants_trip_is_not_found_and_not_listed(seat: RunningSeatService) -> None:
    acme_trip = await _trip_of(seat, ACME, "TA")
    globex_trip = await _trip_of(seat, GLOBEX, "TA")

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await seat.stub.GetTrip(api.GetTripRequest(trip_id=acme_trip), metadata=GLOBEX)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    own = await seat.stub.GetTrip(api.GetTripRequest(trip_id=acme_trip), metadata=ACME)
    assert own.trip.trip_id == acme_trip

    assert await _listed(seat, ACME, "TA1") == {acme_trip}
    assert await _listed(seat, GLOBEX, "TA1") == {globex_trip}


async def test_admins_travellers_and_services_see_every_tenants_trips(seat: RunningSeatService) -> None:
    trips = {await _trip_of(seat, ACME, "TB"), await _trip_of(seat, GLOBEX, "TB")}
    for caller in (
        as_caller(Role.ROLE_ADMIN, subject="root"),
        as_caller(Role.ROLE_TRAVELLER, subject="alice"),
        as_caller(),
        (),
    ):
        assert await _listed(seat, caller, "TB1") == trips
