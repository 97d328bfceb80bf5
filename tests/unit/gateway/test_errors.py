"""The status table and the error body (after grpc-gateway's errors_test.go)."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from common.errors import (
    FareboxError,
    InvalidArgument,
    NotFound,
    RequestInProgress,
    ResourceExhausted,
    SeatUnavailable,
    Unauthenticated,
    Unavailable,
)
from gateway.errors import (
    GatewayError,
    error_body,
    error_response,
    http_status,
    status_json,
    status_of_error,
    status_of_rpc_error,
)

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (Code.OK, 200),
        (Code.CANCELLED, 499),
        (Code.UNKNOWN, 500),
        (Code.INVALID_ARGUMENT, 400),
        (Code.DEADLINE_EXCEEDED, 504),
        (Code.NOT_FOUND, 404),
        (Code.ALREADY_EXISTS, 409),
        (Code.PERMISSION_DENIED, 403),
        (Code.RESOURCE_EXHAUSTED, 429),
        (Code.FAILED_PRECONDITION, 400),
        (Code.ABORTED, 409),
        (Code.OUT_OF_RANGE, 400),
        (Code.UNIMPLEMENTED, 501),
        (Code.INTERNAL, 500),
        (Code.UNAVAILABLE, 503),
        (Code.DATA_LOSS, 500),
        (Code.UNAUTHENTICATED, 401),
    ],
)
def test_maps_every_code_like_grpc_gateway(code: grpc.StatusCode, status: int) -> None:
    assert http_status(code) == status
    response = error_response(status_pb2.Status(code=code.value[0], message="m"))
    assert response.status == status
    assert response.content_type == "application/json"


def test_a_number_outside_the_enum_is_500() -> None:
    assert error_response(status_pb2.Status(code=99)).status == 500


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (InvalidArgument("bad", field_violations=[("trip_id", "empty")]), 400, "INVALID_ARGUMENT"),
        (NotFound("no trip"), 404, "NOT_FOUND"),
        (SeatUnavailable(["1A", "1B"]), 409, "SEAT_UNAVAILABLE"),
        (RequestInProgress(), 409, "REQUEST_IN_PROGRESS"),
        (ResourceExhausted("slow down", retry_after=timedelta(seconds=2)), 429, "RATE_LIMITED"),
        (Unauthenticated("no token"), 401, "UNAUTHENTICATED"),
        (Unavailable("redis down", reason="REDIS_UNAVAILABLE"), 503, "REDIS_UNAVAILABLE"),
        (GatewayError(413, Code.INVALID_ARGUMENT, "too big", reason="BODY_TOO_LARGE"), 400, "BODY_TOO_LARGE"),
    ],
)
def test_the_body_is_the_status_with_its_details(error: FareboxError, status: int, reason: str) -> None:
    response = error_response(status_of_error(error))
    body = json.loads(response.body)
    assert response.status == status
    assert body["code"] == error.code.value[0]
    assert body["message"] == error.message
    info = body["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["domain"]) == (reason, "farebox.io")


def test_field_violations_and_error_metadata_reach_the_body() -> None:
    seats = json.loads(error_body(status_of_error(SeatUnavailable(["1A"]))))
    assert seats["details"][0]["metadata"] == {"seats": "1A"}
    invalid = json.loads(
        error_body(status_of_error(InvalidArgument("bad", field_violations=[("tripId", "empty")])))
    )
    assert invalid["details"][1]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [(v["field"], v["description"]) for v in invalid["details"][1]["fieldViolations"]] == [
        ("tripId", "empty")
    ]


@pytest.mark.parametrize(
    ("delay", "header"),
    [(timedelta(seconds=2), "2"), (timedelta(milliseconds=200), "1"), (timedelta(0), "0"), (None, None)],
)
def test_retry_info_sets_retry_after(delay: timedelta | None, header: str | None) -> None:
    response = error_response(status_of_error(ResourceExhausted("slow down", retry_after=delay)))
    assert response.headers.get("Retry-After") == header


@pytest.mark.parametrize(
    ("credentials_sent", "challenge"),
    [(False, 'Bearer realm="farebox"'), (True, 'Bearer realm="farebox", error="invalid_token"')],
)
def test_unauthenticated_carries_a_bearer_challenge(credentials_sent: bool, challenge: str) -> None:
    response = error_response(status_of_error(Unauthenticated("no")), credentials_sent=credentials_sent)
    assert (response.status, response.headers["WWW-Authenticate"]) == (401, challenge)
    assert "WWW-Authenticate" not in error_response(status_of_error(NotFound("x"))).headers


def test_http_status_override_and_extra_headers() -> None:
    error = GatewayError(405, Code.UNIMPLEMENTED, "no", reason="METHOD_NOT_ALLOWED", headers={"Allow": "GET"})
    response = error_response(status_of_error(error), http_status_override=405, headers=error.headers)
    assert (response.status, response.headers["Allow"]) == (405, "GET")
    assert json.loads(response.body)["code"] == Code.UNIMPLEMENTED.value[0]


def test_details_of_unknown_types_are_dropped() -> None:
    unknown = any_pb2.Any(type_url="type.googleapis.com/acme.Secret", value=b"\x08\x01")
    known = any_pb2.Any()
    known.Pack(error_details_pb2.ErrorInfo(reason="R"))
    body = status_json(status_pb2.Status(code=3, message="m", details=[unknown, known]))
    assert [detail["@type"] for detail in body["details"]] == ["type.googleapis.com/google.rpc.ErrorInfo"]


def test_a_detail_that_cannot_be_marshalled_gives_the_fallback_body() -> None:
    broken = any_pb2.Any(type_url="type.googleapis.com/google.rpc.ErrorInfo", value=b"\xff\xff")
    body = json.loads(error_body(status_pb2.Status(code=3, details=[broken])))
    assert body == {"code": 13, "message": "failed to marshal error message", "details": []}


def test_backend_statuses_keep_their_details() -> None:
    status = status_of_error(SeatUnavailable(["2C"]))
    error = grpc.aio.AioRpcError(
        Code.ABORTED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString())),
        details=status.message,
    )
    assert status_of_rpc_error(error) == status


@pytest.mark.parametrize(
    ("code", "details", "message"),
    [
        (
            Code.UNAVAILABLE,
            "failed to connect to all addresses; ipv4:10.0.0.7:50051",
            "the service is unavailable",
        ),
        (Code.DEADLINE_EXCEEDED, "Deadline Exceeded", "Deadline Exceeded"),
    ],
)
def test_channel_errors_without_details(code: grpc.StatusCode, details: str, message: str) -> None:
    error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)
    status = status_of_rpc_error(error)
    assert status.code == code.value[0]
    assert status.message.startswith(message)
    assert "10.0.0.7" not in status.message
