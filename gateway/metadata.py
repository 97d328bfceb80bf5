"""Request headers -> gRPC metadata and deadline; response metadata -> headers.

Mirrors grpc-gateway's runtime/context.go (`AnnotateContext`, `timeoutDecode`) and the header
matchers of runtime/mux.go, with an allow-list in place of the IANA permanent headers:

- Authorization, traceparent and tracestate pass unchanged; X-Request-Id too, generated when
  absent or malformed, and echoed on the response;
- `Grpc-Metadata-<Key>` passes as `<key>`; X-Forwarded-For gets the peer's address appended;
- Idempotency-Key fills the request's `request_id` when the body left it empty;
- `Grpc-Timeout` (1-8 digits and a unit of H, M, S, m, u or n) is the call's deadline, a malformed
  one INVALID_ARGUMENT; without it a unary call gets the default deadline;
- every other header is dropped.

Response header metadata comes back as `Grpc-Metadata-<key>` and trailer metadata as
`Grpc-Trailer-<key>` (runtime/handler.go); binary (`-bin`) entries are not forwarded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from multidict import CIMultiDict

from common.errors import InvalidArgument

METADATA_HEADER_PREFIX = "Grpc-Metadata-"
TRAILER_HEADER_PREFIX = "Grpc-Trailer-"
REQUEST_ID_HEADER = "X-Request-Id"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
TIMEOUT_HEADER = "Grpc-Timeout"

_PASSED = ("authorization", "traceparent", "tracestate")
_SET_HERE = frozenset({"x-request-id", "x-forwarded-for"})
_RESERVED = frozenset({"content-type", "te", "user-agent", "host", "connection", "transfer-encoding"})
_KEY = re.compile(r"^[0-9a-z_.-]+$")
_VALUE = re.compile(r"^[\x20-\x7e]*$")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_TIMEOUT = re.compile(r"^([0-9]{1,8})([HMSmun])$")
_UNIT_SECONDS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CallContext:
    """What a request's headers ask of the gRPC call."""

    metadata: Metadata
    timeout: float | None
    credentials_sent: bool


def request_id_of(headers: Mapping[str, str]) -> str:
    """The request's X-Request-Id, or a new one when it is absent or malformed."""
    request_id = headers.get(REQUEST_ID_HEADER, "")
    return request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex


def call_context(
    headers: Mapping[str, str], *, peer: str | None, request_id: str, default_timeout: float | None
) -> CallContext:
    """The outgoing metadata and deadline of a request with these (case-insensitive) headers."""
    raw_timeout = headers.get(TIMEOUT_HEADER)
    timeout = default_timeout if raw_timeout is None else parse_grpc_timeout(raw_timeout)
    pairs: list[tuple[str, str]] = [("x-request-id", request_id)]
    for name, value in headers.items():
        key = _metadata_key(name)
        if key is not None and value and _VALUE.match(value):
            pairs.append((key, value))
    forwarded = ", ".join(part for part in (headers.get("X-Forwarded-For", "").strip(), peer or "") if part)
    if forwarded and _VALUE.match(forwarded):
        pairs.append(("x-forwarded-for", forwarded))
    return CallContext(
        metadata=tuple(pairs),
        timeout=timeout,
        credentials_sent="Authorization" in headers,
    )


def _metadata_key(header: str) -> str | None:
    name = header.lower()
    if name in _PASSED:
        return name
    if not name.startswith(METADATA_HEADER_PREFIX.lower()):
        return None
    key = name[len(METADATA_HEADER_PREFIX) :]
    if not _KEY.match(key) or key.endswith("-bin") or key.startswith("grpc-"):
        return None
    if key in _RESERVED or key in _SET_HERE:
        return None
    return key


def parse_grpc_timeout(value: str) -> float:
    """Seconds from a Grpc-Timeout value such as `250m` or `5S`; malformed is INVALID_ARGUMENT."""
    found = _TIMEOUT.match(value.strip())
    if found is None:
        raise InvalidArgument(
            f"invalid {TIMEOUT_HEADER}: {value!r}",
            reason="INVALID_TIMEOUT",
            field_violations=[(TIMEOUT_HEADER, "expected 1 to 8 digits and a unit of H, M, S, m, u or n")],
        )
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def fill_request_id(message: Message, idempotency_key: str | None) -> None:
    """Sets the message's string `request_id` from Idempotency-Key when it is empty."""
    field = message.DESCRIPTOR.fields_by_name.get("request_id")
    if not idempotency_key or field is None or field.is_repeated:
        return
    if field.type == FieldDescriptor.TYPE_STRING and not message.request_id:
        message.request_id = idempotency_key


def response_headers(
    initial: Iterable[tuple[str, str | bytes]] | None, trailing: Iterable[tuple[str, str | bytes]] | None
) -> CIMultiDict[str]:
    """Grpc-Metadata-* headers from header metadata and Grpc-Trailer-* headers from trailers."""
    headers: CIMultiDict[str] = CIMultiDict()
    for prefix, metadata in ((METADATA_HEADER_PREFIX, initial), (TRAILER_HEADER_PREFIX, trailing)):
        for key, value in metadata or ():
            if key.endswith("-bin") or not isinstance(value, str) or not _VALUE.match(value):
                continue
            headers.add(prefix + key, value)
    return headers
