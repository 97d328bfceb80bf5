"""SeatInventoryService: protobuf in, domain calls, protobuf out. Errors are raised, never set by hand.

Trip reads are scoped to the caller (`seat_service.tenancy`): an operator reads only its own trips.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator

import grpc
from farebox.seat.v1 import seat_inventory_service_pb2 as api
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as api_grpc

from common.errors import InvalidArgument
from common.request_context import current_principal
from seat_service import messages
from seat_service.domain import SeatChange
from seat_service.inventory import SeatInventory
from seat_service.tenancy import trip_owner, visible_operator
from seat_service.validation import HoldLimits, require, resolve_span, validate_hold
from seat_service.watch import WatchHub


class SeatInventoryServicer(api_grpc.SeatInventoryServiceServicer):
    """The gRPC face of the seat inventory."""

    def __init__(self, inventory: SeatInventory, hub: WatchHub, limits: HoldLimits) -> None:
        self._inventory = inventory
        self._catalog = inventory.catalog
        self._hub = hub
        self._limits = limits

    async def CreateTrip(
        self, request: api.CreateTripRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateTripResponse:
        if not request.HasField("trip"):
            raise InvalidArgument("trip is required", field_violations=[("trip", "must be set")])
        request_hash = hashlib.sha256(request.trip.SerializeToString(deterministic=True)).hexdigest()
        trip = await self._catalog.create(
            messages.new_trip(request.trip),
            operator_id=trip_owner(current_principal()),
            request_id=request.request_id,
            request_hash=request_hash,
        )
        await self._inventory.prepare(trip)
        return api.CreateTripResponse(trip=messages.trip(trip))

    async def GetTrip(
        self, request: api.GetTripRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTripResponse:
        trip = await self._catalog.get(request.trip_id, visible_operator(current_principal()))
        return api.GetTripResponse(trip=messages.trip(trip))

    async def ListTrips(
        self, request: api.ListTripsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTripsResponse:
        filters = dataclasses.replace(
            messages.trip_filter(request), operator_id=visible_operator(current_principal())
        )
        trips, token = await self._catalog.list(filters, request.page_size, request.page_token)
        return api.ListTripsResponse(trips=[messages.trip(trip) for trip in trips], next_page_token=token)

    async def GetSeatMap(
        self, request: api.GetSeatMapRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSeatMapResponse:
        trip = await self._catalog.get(request.trip_id, visible_operator(current_principal()))
        span = resolve_span(trip, request.from_stop, request.to_stop)
        seat_map = await self._inventory.seat_map(trip, span)
        return api.GetSeatMapResponse(seat_map=messages.seat_map(seat_map, trip))

    async def WatchSeatMap(
        self, request: api.WatchSeatMapRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.WatchSeatMapResponse]:
        trip = await self._catalog.get(request.trip_id, visible_operator(current_principal()))
        span = resolve_span(trip, request.from_stop, request.to_stop)
        async for event in self._hub.watch(trip, span):
            if isinstance(event, SeatChange):
                yield api.WatchSeatMapResponse(change=messages.seat_change(event, trip))
            else:
                yield api.WatchSeatMapResponse(snapshot=messages.seat_map(event, trip))

    async def HoldSeats(
        self, request: api.HoldSeatsRequest, context: grpc.aio.ServicerContext
    ) -> api.HoldSeatsResponse:
        trip = await self._catalog.get(request.trip_id)
        hold_request = validate_hold(
            trip,
            list(request.seat_numbers),
            request.from_stop,
            request.to_stop,
            request.holder_id,
            messages.duration(request.ttl) if request.HasField("ttl") else None,
            request.request_id,
            self._limits,
        )
        hold = await self._inventory.hold(hold_request)
        return api.HoldSeatsResponse(hold=messages.hold(hold, trip.stops))

    async def ReleaseHold(
        self, request: api.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> api.ReleaseHoldResponse:
        hold = await self._inventory.release(request.hold_id)
        trip = await self._catalog.get(hold.trip_id)
        return api.ReleaseHoldResponse(hold=messages.hold(hold, trip.stops))

    async def CommitHold(
        self, request: api.CommitHoldRequest, context: grpc.aio.ServicerContext
    ) -> api.CommitHoldResponse:
        hold = await self._inventory.commit(request.hold_id, request.booking_id)
        trip = await self._catalog.get(hold.trip_id)
        return api.CommitHoldResponse(hold=messages.hold(hold, trip.stops))

    async def ReleaseSeats(
        self, request: api.ReleaseSeatsRequest, context: grpc.aio.ServicerContext
    ) -> api.ReleaseSeatsResponse:
        trip_id, seats = await self._inventory.return_seats(require(request.booking_id, "booking_id"))
        return api.ReleaseSeatsResponse(trip_id=trip_id, seat_numbers=list(seats))
