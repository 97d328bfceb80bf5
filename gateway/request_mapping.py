"""Path values, query parameters and the JSON body -> the request message of a route.

Mirrors grpc-gateway's generated `request_<Service>_<Method>_0` functions and runtime/query.go:

- body "*": the whole body fills the request, then the path values; the query is not read.
- body "field": the body fills that field, then the path values, then the query.
- no body: the path values, then the query.

Query keys are dotted field paths of proto or JSON names (`trip.id`, `departureAfter`); a repeated
field takes every value, a singular one exactly one; `labels[key]=value` fills a map; enums are
given by name or number; Timestamp, Duration, FieldMask and the wrapper types by their JSON string
forms. A key naming no field is ignored; a key bound by the path or the body is skipped.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import duration_pb2, field_mask_pb2, message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from common.errors import InvalidArgument
from gateway import marshal
from gateway.errors import GatewayError
from gateway.marshal import DECIMAL_INTEGER, SPECIAL_FLOATS, is_enum_number
from gateway.routes import Route, find_field

_MAP_KEY = re.compile(r"^(.*)\[(.*)\]$")

_FLOAT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_JSON_TYPES = ("application/json",)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_TEXT_MESSAGES: Mapping[str, type[Message]] = {
    "google.protobuf.Timestamp": timestamp_pb2.Timestamp,
    "google.protobuf.Duration": duration_pb2.Duration,
    "google.protobuf.FieldMask": field_mask_pb2.FieldMask,
}
_WRAPPERS = frozenset(
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)


def is_json_content_type(content_type: str) -> bool:
    """Whether a media type (parameters stripped) is JSON: application/json or any `+json`."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or media.endswith("+json")


def build_request(
    route: Route,
    path_params: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    body: bytes,
    content_type: str | None,
) -> Message:
    """The route's request message from a request's path values, query pairs and body."""
    message = route.request_class()
    if route.body and body.strip():
        if content_type is not None and not is_json_content_type(content_type):
            raise GatewayError(
                415,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request body must be JSON, not {content_type}",
                reason="UNSUPPORTED_MEDIA_TYPE",
            )
        value = marshal.decode(body)
        marshal.merge(value, message, into_field="" if route.body == "*" else route.body)
    for field_path, text in path_params.items():
        _set_path(message, field_path.split("."), [text], field_path)
    if route.body != "*":
        bound = [tuple(path.split(".")) for path in path_params]
        if route.body:
            bound.append((route.body,))
        populate_query(message, query, bound)
    return message


def populate_query(
    message: Message, query: Iterable[tuple[str, str]], bound: Sequence[tuple[str, ...]]
) -> None:
    """Sets the fields the query names, skipping keys under a bound field path (proto names).

    A key whose path names no field is ignored; one that runs on past a scalar field is an error.
    """
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        map_key = _MAP_KEY.match(key)
        path_text, extra = (map_key.group(1), [map_key.group(2)]) if map_key else (key, [])
        path = path_text.split(".")
        proto_path = _proto_names(message.DESCRIPTOR, path)
        if proto_path is None or any(proto_path[: len(prefix)] == prefix for prefix in bound):
            continue
        _set_path(message, path, [*extra, *values], key)


def _proto_names(message: Descriptor, path: Sequence[str]) -> tuple[str, ...] | None:
    names: list[str] = []
    descriptor: Descriptor | None = message
    for name in path:
        if descriptor is None:
            names.append(name)
            continue
        field = find_field(descriptor, name)
        if field is None:
            return None
        names.append(field.name)
        descriptor = field.message_type
    return tuple(names)


def _set_path(message: Message, path: Sequence[str], values: list[str], key: str) -> None:
    target = message
    for name in path[:-1]:
        field = find_field(target.DESCRIPTOR, name)
        if field is None:
            return
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
            raise _invalid(key, f"{name} is not a message, so it has no field {path[-1]}")
        _check_oneof(target, field, key)
        target = getattr(target, field.name)
    field = find_field(target.DESCRIPTOR, path[-1])
    if field is None:
        return
    _check_oneof(target, field, key)
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        _set_map_entry(target, field, values, key)
    elif field.is_repeated:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            raise _invalid(key, "repeated message fields cannot be set from the query")
        getattr(target, field.name).extend(parse_scalar(field, value, key) for value in values)
    elif len(values) != 1:
        raise _invalid(key, f"expected one value, got {len(values)}")
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(target, field.name).CopyFrom(_parse_message(field, values[0], key))
    else:
        setattr(target, field.name, parse_scalar(field, values[0], key))


def _set_map_entry(target: Message, field: FieldDescriptor, values: list[str], key: str) -> None:
    if len(values) != 2:
        raise _invalid(key, "a map field is set as name[key]=value, one value per key")
    entry = field.message_type
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
        raise _invalid(key, "maps of messages cannot be set from the query")
    getattr(target, field.name)[parse_scalar(key_field, values[0], key)] = parse_scalar(
        value_field, values[1], key
    )


def _check_oneof(target: Message, field: FieldDescriptor, key: str) -> None:
    oneof = field.containing_oneof
    if oneof is None:
        return
    chosen = target.WhichOneof(oneof.name)
    if chosen is not None and chosen != field.name:
        raise _invalid(key, f"oneof {oneof.name} already has {chosen} set")


def _parse_message(field: FieldDescriptor, text: str, key: str) -> Message:
    name = field.message_type.full_name
    text_class = _TEXT_MESSAGES.get(name)
    if text_class is not None:
        value = text_class()
        try:
            value.FromJsonString(text)
        except (ValueError, TypeError) as error:
            raise _invalid(key, f"not a valid {name}: {error}") from None
        return value
    if name in _WRAPPERS:
        wrapper = message_factory.GetMessageClass(field.message_type)()
        inner = wrapper.DESCRIPTOR.fields_by_name["value"]
        wrapper.value = parse_scalar(inner, text, key)
        return wrapper
    raise _invalid(key, f"{name} cannot be set from a path or query value")


def parse_scalar(field: FieldDescriptor, text: str, key: str) -> Any:
    """A path or query string as the value of a scalar or enum field."""
    kind = field.type
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if not DECIMAL_INTEGER.match(text) or not low <= int(text) <= high:
            raise _invalid(key, f"{text!r} is not an integer between {low} and {high}")
        return int(text)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return _parse_float(field, text, key)
    if kind == FieldDescriptor.TYPE_BOOL:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _invalid(key, f"{text!r} is not a boolean")
    if kind == FieldDescriptor.TYPE_STRING:
        return text
    if kind == FieldDescriptor.TYPE_BYTES:
        return _parse_bytes(text, key)
    if kind == FieldDescriptor.TYPE_ENUM:
        by_name = field.enum_type.values_by_name.get(text)
        if by_name is not None:
            return by_name.number
        if DECIMAL_INTEGER.match(text) and is_enum_number(field, int(text)):
            return int(text)
        raise _invalid(key, f"{text!r} is not a value of {field.enum_type.full_name}")
    raise _invalid(key, f"fields of type {kind} cannot be set from a path or query value")


def _parse_float(field: FieldDescriptor, text: str, key: str) -> float:
    if text in SPECIAL_FLOATS:
        return float(text.replace("Infinity", "inf"))
    if not _FLOAT.match(text):
        raise _invalid(key, f"{text!r} is not a number")
    value = float(text)
    limit = 3.4028234663852886e38 if field.type == FieldDescriptor.TYPE_FLOAT else math.inf
    if math.isinf(value) or abs(value) > limit:
        raise _invalid(key, f"{text!r} is out of range")
    return value


def _parse_bytes(text: str, key: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(key, "not valid base64") from None


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid value for {field}: {description}",
        reason="INVALID_PARAMETER",
        field_violations=[(field, description)],
    )
