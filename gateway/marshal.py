"""Protobuf messages to and from JSON, like grpc-gateway's default marshaler.

runtime/marshaler_registry.go registers protojson with EmitUnpopulated and DiscardUnknown for
every content type: lowerCamelCase names out, proto or JSON names in, unpopulated fields emitted,
unknown input fields ignored, 64-bit integers as strings, enums as names, Timestamps as RFC 3339.
Here that is google.protobuf.json_format with `always_print_fields_with_no_presence` (the
protobuf 26+ name of `including_default_value_fields`): scalars, repeated fields and maps are
always written; an unset singular message field is left out (Go writes `null` for it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from common.errors import InvalidArgument

JSON_CONTENT_TYPE = "application/json"

DECIMAL_INTEGER = re.compile(r"^(0|-?[1-9][0-9]*)$")
INTEGER_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
    }
)
SPECIAL_FLOATS = frozenset({"NaN", "Infinity", "-Infinity"})
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
_PARSE_ERROR_AT = re.compile(r" at ([\w.\[\]]+?)\.*$")
_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field")


def to_json(message: Message) -> dict[str, Any]:
    """The protojson object of a message, unpopulated fields included."""
    value: dict[str, Any] = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return value


def response_value(message: Message, response_body: str = "") -> Any:
    """The JSON value to send: the whole response, or its `response_body` field."""
    if not response_body:
        return to_json(message)
    field = message.DESCRIPTOR.fields_by_name[response_body]
    if field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
        return to_json(getattr(message, response_body))
    return to_json(message)[field.json_name]


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode(body: bytes) -> Any:
    """The JSON value of a request body; malformed JSON is INVALID_ARGUMENT."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise InvalidArgument(
            "the request body is not valid JSON",
            reason="MALFORMED_JSON",
            field_violations=[("body", str(error))],
        ) from None


def merge(value: Any, message: Message, *, into_field: str = "") -> None:
    """Merges a JSON value into `message`, or into its `into_field`; unknown fields are ignored."""
    if into_field:
        value = {into_field: value}
    elif not isinstance(value, dict):
        raise InvalidArgument(
            "the request body must be a JSON object",
            reason="MALFORMED_JSON",
            field_violations=[("body", f"expected an object, got {type(value).__name__}")],
        )
    try:
        json_format.ParseDict(discard_unknown(value, message.DESCRIPTOR), message)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as error:
        raise InvalidArgument(
            "the request body does not fit the request message",
            field_violations=[(_field_of(str(error)), str(error))],
        ) from None


def discard_unknown(value: dict[str, Any], descriptor: Descriptor, path: str = "") -> dict[str, Any]:
    """The object without members that name no field, at every depth (protojson's DiscardUnknown).

    json_format's own `ignore_unknown_fields` also drops unknown enum names, it reads any number
    (or a boolean) as an enum value, and any string `int()` takes (`"+7"`, `"1_0"`) as an integer;
    this walk refuses all of these. Enum numbers must be known ones, as grpc-gateway's query.go
    asks of query values (protojson would pass an unknown number of an open enum through).
    """
    known: dict[str, Any] = {}
    for key, item in value.items():
        field = descriptor.fields_by_name.get(key) or _by_json_name(descriptor).get(key)
        if field is not None:
            known[key] = _known_in_field(item, field, f"{path}{key}")
    return known


def _known_in_field(item: Any, field: FieldDescriptor, path: str) -> Any:
    if field.is_repeated and isinstance(item, list) and not _is_map(field):
        return [_known_in_value(entry, field, f"{path}[{index}]") for index, entry in enumerate(item)]
    if _is_map(field) and isinstance(item, dict):
        value_field = field.message_type.fields_by_name["value"]
        return {key: _known_in_value(entry, value_field, f"{path}[{key}]") for key, entry in item.items()}
    return _known_in_value(item, field, path)


def _known_in_value(item: Any, field: FieldDescriptor, path: str) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_value(item, field, path)
    if field.type in INTEGER_TYPES and isinstance(item, str) and not DECIMAL_INTEGER.match(item):
        raise _does_not_fit(
            path, "an integer is a number or a decimal string without a sign or leading zeros"
        )
    if field.type in _FLOAT_TYPES and isinstance(item, str) and item not in SPECIAL_FLOATS:
        raise _does_not_fit(path, "a number is a JSON number, NaN, Infinity or -Infinity")
    if field.type != FieldDescriptor.TYPE_MESSAGE or field.message_type.full_name.startswith(
        "google.protobuf."
    ):
        return item
    if isinstance(item, dict):
        return discard_unknown(item, field.message_type, f"{path}.")
    return item


def _enum_value(item: Any, field: FieldDescriptor, path: str) -> Any:
    if isinstance(item, bool) or (isinstance(item, float) and not item.is_integer()):
        raise _does_not_fit(path, "an enum value is a name or the number of one")
    if isinstance(item, int | float):
        if not is_enum_number(field, int(item)):
            raise _does_not_fit(path, f"{item} is not a number of {field.enum_type.full_name}")
        return int(item)
    return item


def is_enum_number(field: FieldDescriptor, number: int) -> bool:
    """Whether `number` is the number of a value of the field's enum."""
    # upb looks numbers up as int32, so a wider number can alias a known one.
    return -(2**31) <= number < 2**31 and number in field.enum_type.values_by_number


def _does_not_fit(path: str, description: str) -> InvalidArgument:
    return InvalidArgument(
        "the request body does not fit the request message", field_violations=[(path, description)]
    )


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and bool(field.message_type.GetOptions().map_entry)


def _by_json_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    return {field.json_name: field for field in descriptor.fields}


def _field_of(error: str) -> str:
    """The field path a json_format error names: `trip.stops.row` from its nested messages."""
    found = _PARSE_ERROR_AT.search(error.strip())
    if found is not None and "." in found.group(1):
        return found.group(1).partition(".")[2]
    names = _FAILED_FIELD.findall(error)
    return ".".join(names) if names else "body"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
