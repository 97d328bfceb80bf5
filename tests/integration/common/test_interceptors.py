"""The standard chain: domain errors arrive as rich statuses, undeclared methods are refused."""

from collections.abc import AsyncIterator

import grpc
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2 as seat_pb2
from farebox.seat.v1 import seat_inventory_service_pb2_grpc as seat_grpc
from farebox.seat.v1.seat_pb2 import Trip

from common import errors
from common.interceptors.chain import standard_interceptors
from common.request_context import time_remaining
from common.server import ServiceHost


class FailingSeats(seat_grpc.SeatInventoryServiceServicer):
    async def GetTrip(self, request, context):
        if request.trip_id == "missing":
            raise errors.NotFound("trip missing does not exist", metadata={"trip_id": "missing"})
        if request.trip_id == "crash":
            raise RuntimeError("database password is hunter2")
        remaining = time_remaining()
        return seat_pb2.GetTripResponse(trip=Trip(route_name=f"{remaining is not None}"))

    async def HoldSeats(self, request, context):
        raise errors.InvalidArgument("no seats", field_violations=[("seat_numbers", "must not be empty")])


@pytest.fixture
async def stub() -> AsyncIterator[seat_grpc.SeatInventoryServiceStub]:
    host = ServiceHost.create(["farebox.seat.v1.SeatInventoryService"], interceptors=standard_interceptors())
    seat_grpc.add_SeatInventoryServiceServicer_to_server(FailingSeats(), host.server)
    port = await host.start("127.0.0.1:0")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield seat_grpc.SeatInventoryServiceStub(channel)
    await host.server.stop(None)


async def test_domain_error_arrives_with_code_and_reason(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetTrip(seat_pb2.GetTripRequest(trip_id="missing"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    info = errors.error_info(caught.value)
    assert info is not None and info.reason == "NOT_FOUND" and info.metadata["trip_id"] == "missing"


async def test_field_violations_reach_the_client(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.HoldSeats(seat_pb2.HoldSeatsRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = errors.bad_request(caught.value).field_violations
    assert [violation.field for violation in violations] == ["seat_numbers"]


async def test_unexpected_errors_are_internal_without_their_message(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetTrip(seat_pb2.GetTripRequest(trip_id="crash"))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (caught.value.details() or "")


async def test_unimplemented_methods_say_so(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListTrips(seat_pb2.ListTripsRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_the_incoming_deadline_is_visible_to_handlers(stub) -> None:
    with_deadline = await stub.GetTrip(seat_pb2.GetTripRequest(trip_id="x"), timeout=5)
    without = await stub.GetTrip(seat_pb2.GetTripRequest(trip_id="x"))
    assert (with_deadline.trip.route_name, without.trip.route_name) == ("True", "False")


async def test_methods_without_a_declared_policy_are_refused() -> None:
    host = ServiceHost.create(["test.Undeclared"], interceptors=standard_interceptors())

    async def echo(request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
        return request

    host.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Undeclared", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            )
        ]
    )
    port = await host.start("127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Undeclared/Echo")(b"x")
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await host.server.stop(None)
