"""The OpenAPI document: built from the routes and descriptors, valid JSON Schema, and a true
description of what the translator writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import farebox
import jsonschema
import pytest
from farebox.booking.v1 import booking_pb2, booking_service_pb2
from farebox.common.v1 import money_pb2
from farebox.seat.v1 import seat_inventory_service_pb2, seat_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import status_pb2
from referencing import Registry, Resource

from common.errors import SeatUnavailable
from gateway import marshal
from gateway.comments import load_comments
from gateway.docs_page import render_docs
from gateway.errors import status_json, status_of_error
from gateway.openapi import build_openapi
from gateway.routes import build_routes, import_services
from tests.unit.gateway.protoc import farebox_descriptor_set

Spec = dict[str, Any]


@pytest.fixture(scope="module")
def farebox_comments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return load_comments(farebox_descriptor_set(tmp_path_factory.mktemp("farebox") / "descriptors.binpb"))


@pytest.fixture(scope="module")
def spec(farebox_comments: dict[str, str]) -> Spec:
    routes = build_routes(import_services(farebox))
    return build_openapi(routes, farebox_comments, title="Farebox API", version="v1")


def operation(spec: Spec, method: str, path: str) -> Spec:
    return spec["paths"][path][method]


def parameters(op: Spec) -> dict[str, Spec]:
    return {parameter["name"]: parameter for parameter in op.get("parameters", [])}


def test_document_shape(spec: Spec) -> None:
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/v1/trips",
        "/v1/trips/{trip_id}",
        "/v1/trips/{trip_id}/seat-map",
        "/v1/trips/{trip_id}/seat-map:watch",
        "/v1/bookings",
        "/v1/bookings/{booking_id}",
        "/v1/bookings/{booking_id}:confirm",
        "/v1/bookings/{booking_id}:cancel",
    }
    assert set(spec["paths"]["/v1/trips"]) == {"get", "post"}
    assert [tag["name"] for tag in spec["tags"]] == ["BookingService", "SeatInventoryService"]
    assert spec["tags"][0]["description"].startswith("BookingService takes a traveller")


def test_comments_become_descriptions(spec: Spec) -> None:
    get_seat_map = operation(spec, "get", "/v1/trips/{trip_id}/seat-map")
    assert get_seat_map["operationId"] == "SeatInventoryService_GetSeatMap"
    assert get_seat_map["description"].startswith("GetSeatMap returns every seat of a trip")
    assert parameters(get_seat_map)["trip_id"]["description"] == "The trip's id."
    assert (
        parameters(get_seat_map)["fromStop"]["description"] == "The code of the stop the journey starts at."
    )
    trip = spec["components"]["schemas"]["farebox.seat.v1.Trip"]
    assert trip["description"].startswith("Trip is one departure of a coach")
    assert trip["properties"]["stops"]["description"].startswith("The stops in travel order")
    seat_class = spec["components"]["schemas"]["farebox.seat.v1.SeatClass"]
    assert "SEAT_CLASS_PREMIUM: A premium seat with more room." in seat_class["description"]


def test_path_and_query_parameters(spec: Spec) -> None:
    list_trips = parameters(operation(spec, "get", "/v1/trips"))
    assert set(list_trips) == {
        "origin",
        "destination",
        "departureAfter",
        "departureBefore",
        "pageSize",
        "pageToken",
    }
    assert all(p["in"] == "query" and not p["required"] for p in list_trips.values())
    assert list_trips["departureAfter"]["schema"]["format"] == "date-time"
    assert list_trips["pageSize"]["schema"]["anyOf"][0] == {
        "type": "integer",
        "format": "int32",
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    get_trip = parameters(operation(spec, "get", "/v1/trips/{trip_id}"))
    assert get_trip["trip_id"]["in"] == "path"
    assert get_trip["trip_id"]["required"] is True
    assert get_trip["trip_id"]["schema"] == {"type": "string"}


def test_request_bodies(spec: Spec) -> None:
    def body(method: str, path: str) -> Spec:
        return operation(spec, method, path)["requestBody"]["content"]["application/json"]["schema"]

    assert body("post", "/v1/bookings") == {
        "$ref": "#/components/schemas/farebox.booking.v1.ReserveSeatsRequest-input"
    }
    assert "parameters" not in operation(spec, "post", "/v1/bookings")
    confirm = body("post", "/v1/bookings/{booking_id}:confirm")
    assert set(confirm["properties"]) == {"paymentToken", "requestId"}
    assert set(parameters(operation(spec, "post", "/v1/bookings/{booking_id}:confirm"))) == {"booking_id"}
    create_trip = body("post", "/v1/trips")
    assert create_trip["anyOf"] == [
        {"$ref": "#/components/schemas/farebox.seat.v1.Trip-input"},
        {"type": "null"},
    ]
    assert set(parameters(operation(spec, "post", "/v1/trips"))) == {"requestId"}
    assert operation(spec, "post", "/v1/trips")["requestBody"]["required"] is False


def test_responses(spec: Spec) -> None:
    get_trip = operation(spec, "get", "/v1/trips/{trip_id}")["responses"]
    assert get_trip["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/farebox.seat.v1.GetTripResponse"
    }
    assert get_trip["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/google.rpc.Status"
    }
    watch = operation(spec, "get", "/v1/trips/{trip_id}/seat-map:watch")["responses"]["200"]["content"]
    assert set(watch) == {"application/x-ndjson", "text/event-stream"}
    assert set(watch["application/x-ndjson"]["schema"]["properties"]) == {"result", "error"}


@pytest.mark.parametrize(
    ("method", "path", "secured"),
    [
        ("get", "/v1/trips/{trip_id}", False),
        ("get", "/v1/trips/{trip_id}/seat-map:watch", False),
        ("post", "/v1/trips", True),
        ("post", "/v1/bookings", True),
        ("get", "/v1/bookings/{booking_id}", True),
    ],
)
def test_security_follows_the_method_policy(spec: Spec, method: str, path: str, secured: bool) -> None:
    assert ("security" in operation(spec, method, path)) is secured


def all_schemas(value: Any) -> Iterator[Spec]:
    if isinstance(value, dict):
        if "schema" in value and isinstance(value["schema"], dict):
            yield value["schema"]
        for item in value.values():
            yield from all_schemas(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_schemas(item)


def test_every_schema_is_valid_json_schema(spec: Spec) -> None:
    for schema in [*spec["components"]["schemas"].values(), *all_schemas(spec["paths"])]:
        jsonschema.Draft202012Validator.check_schema(schema)


def validator(spec: Spec, schema: Spec) -> jsonschema.Draft202012Validator:
    """A validator for `schema` whose `#/components/...` references resolve inside `spec`."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:spec",
        Resource.from_contents({**spec, "$schema": "https://json-schema.org/draft/2020-12/schema"}),
    )
    return jsonschema.Draft202012Validator(_rebase(schema), registry=registry)


def _rebase(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("urn:spec" + v if k == "$ref" else _rebase(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(item) for item in value]
    return value


TRIP = seat_pb2.Trip(
    trip_id="t1",
    stops=[seat_pb2.Stop(code="AMS", name="Amsterdam")],
    departure_time=timestamp_pb2.Timestamp(seconds=1_800_000_000, nanos=5),
    seats=[seat_pb2.Seat(seat_number="1A", row=1, column=1, seat_class=seat_pb2.SEAT_CLASS_STANDARD)],
    fares=[seat_pb2.Fare(price=money_pb2.Money(amount_minor=2**62, currency_code="EUR"))],
)


@pytest.mark.parametrize(
    ("method", "path", "response"),
    [
        ("get", "/v1/trips/{trip_id}", seat_inventory_service_pb2.GetTripResponse(trip=TRIP)),
        ("get", "/v1/trips/{trip_id}", seat_inventory_service_pb2.GetTripResponse()),
        ("get", "/v1/trips", seat_inventory_service_pb2.ListTripsResponse(trips=[TRIP, seat_pb2.Trip()])),
        (
            "post",
            "/v1/bookings",
            booking_service_pb2.ReserveSeatsResponse(
                booking=booking_pb2.Booking(
                    booking_id="b", status=booking_pb2.BOOKING_STATUS_PENDING, tickets=[booking_pb2.Ticket()]
                )
            ),
        ),
    ],
)
def test_what_the_translator_writes_conforms(spec: Spec, method: str, path: str, response: Message) -> None:
    schema = operation(spec, method, path)["responses"]["200"]["content"]["application/json"]["schema"]
    validator(spec, schema).validate(marshal.to_json(response))


@pytest.mark.parametrize(
    "status",
    [status_pb2.Status(code=5, message="no"), status_of_error(SeatUnavailable(["1A"]))],
)
def test_error_bodies_conform(spec: Spec, status: status_pb2.Status) -> None:
    schema = operation(spec, "get", "/v1/trips")["responses"]["default"]["content"]["application/json"][
        "schema"
    ]
    validator(spec, schema).validate(status_json(status))


def test_sample_rules(library: ServiceDescriptor, sample_descriptor_set: Path) -> None:
    sample = build_openapi(
        build_routes([library]), load_comments(sample_descriptor_set), title="t", version="v"
    )
    get_book = operation(sample, "get", "/v1/{name}")
    additional = operation(sample, "get", "/v1/books/{name}")
    assert {get_book["operationId"], additional["operationId"]} == {"Library_GetBook", "Library_GetBook_1"}
    assert set(parameters(get_book)) == {"name", "readMask"}
    list_books = operation(sample, "get", "/v1/shelves/{filter.shelf.name}/books")
    names = set(parameters(list_books))
    assert "filter.shelf.name" in names
    assert {"filter.title", "filter.shelf.floor", "filter.genres", "filter.publishTime", "pageSize"} <= names
    assert not {"filter.history", "filter.labels", "filter.shelf"} & names
    assert parameters(list_books)["filter.genres"]["explode"] is True
    listed = list_books["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"type": "array", "items": {"$ref": "#/components/schemas/gatewaytest.v1.Book"}}
    book = sample["components"]["schemas"]["gatewaytest.v1.Book"]["properties"]
    book_input = sample["components"]["schemas"]["gatewaytest.v1.Book-input"]["properties"]
    assert book["labels"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Labels.",
    }
    assert book_input["labels"]["anyOf"][1] == {"type": "null"}
    assert (book["printed"]["type"], book["printed"]["format"]) == ("string", "int64")
    printed_input = book_input["printed"]["anyOf"][0]["anyOf"]
    assert [alternative["type"] for alternative in printed_input] == ["integer", "string"]
    assert book["genre"] == {"$ref": "#/components/schemas/gatewaytest.v1.Genre", "description": "The genre."}
    assert book["rating"]["anyOf"][0] == {"type": "number", "format": "double"}
    assert book["publishTime"]["format"] == "date-time"
    move = operation(sample, "move", "/v1/{name}:move")
    assert "name" not in move["requestBody"]["content"]["application/json"]["schema"]["properties"]
    for schema in sample["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_docs_page_lists_operations_escaped(spec: Spec) -> None:
    page = render_docs(spec)
    assert "<code>/v1/bookings/{booking_id}:confirm</code>" in page
    assert "ReserveSeats holds seats on a trip" in page
    assert "The trip&#x27;s id." in page
    assert "<script" not in page
