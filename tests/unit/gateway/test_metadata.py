"""Header translation, pinned by tables (after grpc-gateway's context_test.go)."""

from __future__ import annotations

import pytest
from farebox.booking.v1 import booking_service_pb2
from farebox.seat.v1 import seat_inventory_service_pb2
from multidict import CIMultiDict

from common.errors import InvalidArgument
from gateway.metadata import (
    call_context,
    fill_request_id,
    parse_grpc_timeout,
    request_id_of,
    response_headers,
)


@pytest.mark.parametrize(
    ("headers", "peer", "expected"),
    [
        ({}, None, []),
        ({"Authorization": "Bearer t"}, None, [("authorization", "Bearer t")]),
        ({"authorization": "Bearer t"}, None, [("authorization", "Bearer t")]),
        (
            {"traceparent": "00-ab-cd-01", "tracestate": "k=v"},
            None,
            [("traceparent", "00-ab-cd-01"), ("tracestate", "k=v")],
        ),
        ({"Grpc-Metadata-Tenant": "acme"}, None, [("tenant", "acme")]),
        ({"grpc-metadata-x-client": "web"}, None, [("x-client", "web")]),
        ({"X-Forwarded-For": "1.2.3.4"}, "10.0.0.1", [("x-forwarded-for", "1.2.3.4, 10.0.0.1")]),
        ({}, "10.0.0.1", [("x-forwarded-for", "10.0.0.1")]),
        ({"X-Forwarded-For": "1.2.3.4"}, None, [("x-forwarded-for", "1.2.3.4")]),
        ({"Cookie": "s=1", "User-Agent": "x", "Accept": "*/*", "X-Custom": "1", "Host": "h"}, None, []),
        ({"Grpc-Metadata-Trace-Bin": "AAAA"}, None, []),
        ({"Grpc-Metadata-Grpc-Status": "0"}, None, []),
        ({"Grpc-Metadata-Content-Type": "text/plain"}, None, []),
        ({"Grpc-Metadata-X-Request-Id": "spoofed"}, None, []),
        ({"Grpc-Metadata-": "empty"}, None, []),
        ({"Grpc-Metadata-Bad Key": "v"}, None, []),
        ({"Authorization": "Bearer \x7f"}, None, []),
    ],
)
def test_forwards_only_the_allow_list(
    headers: dict[str, str], peer: str | None, expected: list[tuple[str, str]]
) -> None:
    context = call_context(CIMultiDict(headers), peer=peer, request_id="r1", default_timeout=5.0)
    assert context.metadata == (("x-request-id", "r1"), *expected)
    assert context.credentials_sent is ("authorization" in {key.lower() for key in headers})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1H", 3600.0),
        ("2M", 120.0),
        ("5S", 5.0),
        ("250m", 0.25),
        ("100u", 1e-4),
        ("7n", 7e-9),
        ("99999999S", 99999999.0),
    ],
)
def test_grpc_timeout_becomes_the_deadline(value: str, seconds: float) -> None:
    assert parse_grpc_timeout(value) == pytest.approx(seconds)
    context = call_context(
        CIMultiDict({"Grpc-Timeout": value}), peer=None, request_id="r", default_timeout=5.0
    )
    assert context.timeout == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "S", "5", "5s", "1.5S", "-1S", "123456789S", "5 S", "5SS", "٣S"])
def test_a_malformed_grpc_timeout_is_invalid_argument(value: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        call_context(CIMultiDict({"Grpc-Timeout": value}), peer=None, request_id="r", default_timeout=5.0)
    assert raised.value.field_violations[0][0] == "Grpc-Timeout"


@pytest.mark.parametrize(("default", "expected"), [(5.0, 5.0), (None, None)])
def test_without_grpc_timeout_the_default_deadline_applies(
    default: float | None, expected: float | None
) -> None:
    assert call_context(CIMultiDict(), peer=None, request_id="r", default_timeout=default).timeout == expected


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("abc-123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("has space", False),
        ("é", False),
    ],
)
def test_request_id_is_kept_or_generated(header: str, kept: bool) -> None:
    request_id = request_id_of(CIMultiDict({"X-Request-Id": header}))
    assert (request_id == header) is kept
    assert len(request_id) > 0
    assert request_id_of(CIMultiDict()) != request_id_of(CIMultiDict())


@pytest.mark.parametrize(
    ("message", "key", "expected"),
    [
        (booking_service_pb2.ReserveSeatsRequest(), "k1", "k1"),
        (booking_service_pb2.ReserveSeatsRequest(request_id="from-body"), "k1", "from-body"),
        (booking_service_pb2.ReserveSeatsRequest(), None, ""),
        (booking_service_pb2.ConfirmBookingRequest(), "k2", "k2"),
    ],
)
def test_idempotency_key_fills_an_empty_request_id(message: object, key: str | None, expected: str) -> None:
    fill_request_id(message, key)  # type: ignore[arg-type]
    assert message.request_id == expected  # type: ignore[attr-defined]


def test_idempotency_key_is_ignored_by_requests_without_request_id() -> None:
    message = seat_inventory_service_pb2.GetTripRequest(trip_id="t")
    fill_request_id(message, "k")
    assert message == seat_inventory_service_pb2.GetTripRequest(trip_id="t")


def test_response_metadata_becomes_prefixed_headers() -> None:
    headers = response_headers(
        [("x-served-by", "seat-1"), ("x-tag", "a"), ("x-tag", "b"), ("trace-bin", b"\x00")],
        [("x-rows", "3"), ("grpc-status-details-bin", b"\x08")],
    )
    assert list(headers.items()) == [
        ("Grpc-Metadata-x-served-by", "seat-1"),
        ("Grpc-Metadata-x-tag", "a"),
        ("Grpc-Metadata-x-tag", "b"),
        ("Grpc-Trailer-x-rows", "3"),
    ]
