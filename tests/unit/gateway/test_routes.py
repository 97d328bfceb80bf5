"""Routes come from the google.api.http options alone; the table dispatches like grpc-gateway's mux."""

from __future__ import annotations

import farebox
import pytest
from google.api import http_pb2
from google.protobuf.descriptor import ServiceDescriptor

from gateway.errors import GatewayError
from gateway.routes import RouteError, RouteTable, build_routes, import_services, routes_of_rule


@pytest.fixture(scope="module")
def farebox_routes() -> RouteTable:
    return build_routes(import_services(farebox))


def test_every_annotated_farebox_rpc_is_routed(farebox_routes: RouteTable) -> None:
    routes = {(r.http_method, r.template.template, r.grpc_path, r.body) for r in farebox_routes.routes}
    assert routes == {
        ("POST", "/v1/trips", "/farebox.seat.v1.SeatInventoryService/CreateTrip", "trip"),
        ("GET", "/v1/trips/{trip_id}", "/farebox.seat.v1.SeatInventoryService/GetTrip", ""),
        ("GET", "/v1/trips", "/farebox.seat.v1.SeatInventoryService/ListTrips", ""),
        ("GET", "/v1/trips/{trip_id}/seat-map", "/farebox.seat.v1.SeatInventoryService/GetSeatMap", ""),
        (
            "GET",
            "/v1/trips/{trip_id}/seat-map:watch",
            "/farebox.seat.v1.SeatInventoryService/WatchSeatMap",
            "",
        ),
        ("POST", "/v1/bookings", "/farebox.booking.v1.BookingService/ReserveSeats", "*"),
        (
            "POST",
            "/v1/bookings/{booking_id}:confirm",
            "/farebox.booking.v1.BookingService/ConfirmBooking",
            "*",
        ),
        ("POST", "/v1/bookings/{booking_id}:cancel", "/farebox.booking.v1.BookingService/CancelBooking", "*"),
        ("GET", "/v1/bookings/{booking_id}", "/farebox.booking.v1.BookingService/GetBooking", ""),
        ("GET", "/v1/bookings", "/farebox.booking.v1.BookingService/ListBookings", ""),
    }
    assert farebox_routes.services == [
        "farebox.booking.v1.BookingService",
        "farebox.seat.v1.SeatInventoryService",
    ]


def test_sample_rules_become_routes(library: ServiceDescriptor) -> None:
    routes = {
        (r.http_method, r.template.template, r.rpc.name, r.body, r.response_body, r.server_streaming)
        for r in build_routes([library]).routes
    }
    assert routes == {
        ("GET", "/v1/{name=shelves/*/books/*}", "GetBook", "", "", False),
        ("GET", "/v1/books/{name=**}", "GetBook", "", "", False),
        ("GET", "/v1/shelves/{filter.shelf.name}/books", "ListBooks", "", "books", False),
        ("PATCH", "/v1/{book.name=shelves/*/books/*}", "UpdateBook", "book", "", False),
        ("MOVE", "/v1/{name=shelves/*/books/*}:move", "MoveBook", "*", "", False),
        ("GET", "/v1/books:watch", "WatchBooks", "", "", True),
    }


@pytest.mark.parametrize(
    ("method", "path", "rpc", "params"),
    [
        ("GET", "/v1/trips", "ListTrips", {}),
        ("GET", "/v1/trips/t1", "GetTrip", {"trip_id": "t1"}),
        ("GET", "/v1/trips/t1/seat-map", "GetSeatMap", {"trip_id": "t1"}),
        ("GET", "/v1/trips/t1/seat-map:watch", "WatchSeatMap", {"trip_id": "t1"}),
        ("POST", "/v1/trips", "CreateTrip", {}),
        ("POST", "/v1/bookings", "ReserveSeats", {}),
        ("POST", "/v1/bookings/b1:confirm", "ConfirmBooking", {"booking_id": "b1"}),
        ("POST", "/v1/bookings/b1:cancel", "CancelBooking", {"booking_id": "b1"}),
        ("GET", "/v1/bookings/b%201", "GetBooking", {"booking_id": "b 1"}),
    ],
)
def test_matches_requests_to_rpcs(
    farebox_routes: RouteTable, method: str, path: str, rpc: str, params: dict[str, str]
) -> None:
    match = farebox_routes.match(method, path)
    assert match.route.rpc.name == rpc
    assert match.path_params == params


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v2/trips", 404, None),
        ("GET", "/v1/trips/t1/seats", 404, None),
        ("GET", "/v1/bookings/b1:refund", 404, None),
        ("GET", "/v1/:verb", 404, None),
        ("GET", "relative", 404, None),
        ("DELETE", "/v1/trips", 405, "GET, POST"),
        ("PUT", "/v1/trips/t1", 405, "GET"),
        ("GET", "/v1/bookings/b1:confirm", 405, "POST"),
        ("HEAD", "/v1/bookings", 405, "GET, POST"),
    ],
)
def test_refuses_unknown_paths_and_methods(
    farebox_routes: RouteTable, method: str, path: str, status: int, allow: str | None
) -> None:
    with pytest.raises(GatewayError) as raised:
        farebox_routes.match(method, path)
    assert raised.value.http_status == status
    assert raised.value.headers.get("Allow") == allow


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (http_pb2.HttpRule(get="/v1/{missing}"), "path variable 'missing'"),
        (http_pb2.HttpRule(get="/v1/{read_mask}"), "path variable 'read_mask'"),
        (http_pb2.HttpRule(get="/v1/{name"), "unclosed variable"),
        (http_pb2.HttpRule(post="/v1/x", body="nope"), "body 'nope'"),
        (http_pb2.HttpRule(get="/v1/x", response_body="nope"), "response_body 'nope'"),
        (http_pb2.HttpRule(), "no method and path"),
        (
            http_pb2.HttpRule(
                get="/v1/x",
                additional_bindings=[
                    http_pb2.HttpRule(get="/v1/y", additional_bindings=[http_pb2.HttpRule(get="/v1/z")])
                ],
            ),
            "cannot nest",
        ),
    ],
)
def test_refuses_rules_that_cannot_be_served(
    library: ServiceDescriptor, rule: http_pb2.HttpRule, problem: str
) -> None:
    with pytest.raises(RouteError, match=problem):
        routes_of_rule(library.methods_by_name["GetBook"], rule)


def test_refuses_client_streaming_rpcs(library: ServiceDescriptor) -> None:
    with pytest.raises(RouteError, match="client-streaming"):
        routes_of_rule(
            library.methods_by_name["Upload"], http_pb2.HttpRule(post="/v1/books:upload", body="*")
        )


def test_refuses_two_rules_for_one_method_and_path(library: ServiceDescriptor) -> None:
    rule = http_pb2.HttpRule(get="/v1/x")
    routes = routes_of_rule(library.methods_by_name["GetBook"], rule)
    routes += routes_of_rule(library.methods_by_name["Unmapped"], rule)
    with pytest.raises(RouteError, match="two rules"):
        RouteTable(routes)
