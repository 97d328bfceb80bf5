"""One table from gRPC codes to HTTP statuses, and the google.rpc.Status JSON body of every error.

Mirrors grpc-gateway's runtime/errors.go: `HTTPStatusFromCode` is `HTTP_STATUS_BY_CODE`,
`DefaultHTTPErrorHandler` is `error_response` (the status as JSON with its details, a fallback body
when that cannot be marshalled, WWW-Authenticate on 401), and `HTTPStatusError` (an error whose HTTP
status is not its code's, such as 405 or 413) is `GatewayError`. RetryInfo also sets Retry-After.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import grpc
from aiohttp import web
from google.protobuf import json_format, message, symbol_database
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from multidict import CIMultiDict

from common.errors import FareboxError

HTTP_STATUS_BY_CODE: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

_CODE_BY_NUMBER: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
_FALLBACK_BODY = b'{"code":13,"message":"failed to marshal error message","details":[]}'
_CHALLENGE = 'Bearer realm="farebox"'


class GatewayError(FareboxError):
    """A request the translator refuses itself, with an HTTP status that may differ from its code's."""

    def __init__(
        self,
        http_status: int,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str,
        field_violations: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, field_violations=field_violations)
        self.code = code
        self.http_status = http_status
        self.headers = dict(headers or {})


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status of a gRPC code; 500 for a code outside the table."""
    return HTTP_STATUS_BY_CODE.get(code, 500)


def code_of(status: status_pb2.Status) -> grpc.StatusCode:
    """The gRPC code of a google.rpc.Status; UNKNOWN for a number outside the enum."""
    return _CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)


def status_of_error(error: FareboxError) -> status_pb2.Status:
    """The google.rpc.Status of a Farebox error, with its ErrorInfo, BadRequest and RetryInfo details."""
    for key, value in error.to_status().trailing_metadata:
        if key == rpc_status.GRPC_DETAILS_METADATA_KEY:
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=error.code.value[0], message=error.message)


def status_of_rpc_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a backend returned, rich details included when it sent them.

    An UNAVAILABLE without details comes from the channel, not the backend: its message, which
    names internal addresses, is replaced.
    """
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        status = None
    if status is not None:
        return status
    if error.code() is grpc.StatusCode.UNAVAILABLE:
        return status_pb2.Status(
            code=error.code().value[0], message="the service is unavailable, try again later"
        )
    return status_pb2.Status(code=error.code().value[0], message=error.details() or "")


def status_json(status: status_pb2.Status) -> dict[str, object]:
    """The status as protojson, keeping only details whose type this process knows."""
    known = status_pb2.Status(code=status.code, message=status.message)
    known.details.extend(detail for detail in status.details if _is_known(detail.TypeName()))
    value: dict[str, object] = json_format.MessageToDict(known, always_print_fields_with_no_presence=True)
    return value


def error_body(status: status_pb2.Status) -> bytes:
    """The JSON body of an error, or a fixed fallback when the status cannot be marshalled."""
    try:
        return json.dumps(status_json(status), separators=(",", ":")).encode()
    except (TypeError, ValueError, json_format.Error, message.Error):
        return _FALLBACK_BODY


def retry_after(status: status_pb2.Status) -> int | None:
    """Whole seconds from the status's RetryInfo, rounded up; None without one."""
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            seconds: int = math.ceil(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
            return max(0, seconds)
    return None


def error_headers(
    status: status_pb2.Status, *, credentials_sent: bool, extra: Mapping[str, str] | None = None
) -> CIMultiDict[str]:
    """Retry-After from RetryInfo and a Bearer challenge on UNAUTHENTICATED, plus `extra`."""
    headers: CIMultiDict[str] = CIMultiDict(extra or {})
    delay = retry_after(status)
    if delay is not None:
        headers["Retry-After"] = str(delay)
    if code_of(status) is grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = _CHALLENGE + (', error="invalid_token"' if credentials_sent else "")
    return headers


def error_response(
    status: status_pb2.Status,
    *,
    http_status_override: int | None = None,
    credentials_sent: bool = False,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The HTTP response for an error status: mapped status code, JSON body, derived headers."""
    return web.Response(
        status=http_status_override or http_status(code_of(status)),
        body=error_body(status),
        content_type="application/json",
        headers=error_headers(status, credentials_sent=credentials_sent, extra=headers),
    )


def _is_known(type_name: str) -> bool:
    try:
        symbol_database.Default().pool.FindMessageTypeByName(type_name)
    except KeyError:
        return False
    return True
