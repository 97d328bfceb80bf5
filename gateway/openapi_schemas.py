"""JSON Schemas of protobuf messages: as protojson writes them, and as the translator reads them.

Output forms are exact: 64-bit integers are decimal strings, enums are names (a number only for a
value of an open enum that this API version does not know), Timestamps RFC 3339, and no member is
null. Input forms add what the translator also accepts, so that the spec promises neither less nor
more than it does: decimal strings or numbers for every integer, the numbers of enum values, and
`null` (meaning unset) for any field. Message schemas are components named by full name; the
input form of a message is the component `<full name>-input`. Descriptions are the proto comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

Schema = dict[str, Any]

STATUS_SCHEMA = "google.rpc.Status"
ANY_SCHEMA = "google.protobuf.Any"
INPUT_SUFFIX = "-input"

_INT_LIMITS = {
    FieldDescriptor.TYPE_INT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: ("uint32", 0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: ("uint32", 0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: ("uint64", 0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: ("uint64", 0, 2**64 - 1),
}
_SIXTY_FOUR_BITS = frozenset({"int64", "uint64"})
_SPECIAL_FLOATS: Schema = {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}
_YEAR = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_WELL_KNOWN: Mapping[str, Schema] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "pattern": (
            f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-5][0-9](\\.[0-9]{{1,9}})?"
            "(Z|[+-][0-9]{2}:[0-9]{2})$"
        ),
    },
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": {}},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
}


class SchemaRegistry:
    """Builds field and message schemas, collecting the component schemas they refer to."""

    def __init__(self, comments: Mapping[str, str]) -> None:
        self.comments = comments
        self.components: dict[str, Schema] = {
            STATUS_SCHEMA: {
                "type": "object",
                "description": "The error of a call: a gRPC code, a message and typed details.",
                "properties": {
                    "code": {"type": "integer", "format": "int32"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": ref(ANY_SCHEMA)},
                },
            },
            ANY_SCHEMA: {
                "type": "object",
                "description": "A typed detail: `@type` names the message, the other members are its fields.",
                "properties": {"@type": {"type": "string"}},
                "additionalProperties": {},
            },
        }

    def described(self, full_name: str) -> Schema:
        """`{"description": comment}` when the element has a comment."""
        text = self.comments.get(full_name)
        return {"description": text} if text else {}

    def message(self, message: Descriptor, *, output: bool) -> Schema:
        """The schema of a message value: a well-known type's JSON form, or a component reference."""
        name = message.full_name
        well_known = _well_known(message, output)
        if well_known is not None:
            return well_known
        component = name if output else name + INPUT_SUFFIX
        if component not in self.components:
            self.components[component] = {}
            self.components[component] = self.object(message, output=output)
        return ref(component)

    def object(self, message: Descriptor, *, output: bool, leave_out: frozenset[str] = frozenset()) -> Schema:
        """The object schema of a message, without the fields named (by proto name) in `leave_out`."""
        properties = {
            field.json_name: {**self.field(field, output=output), **self.described(field.full_name)}
            for field in message.fields
            if field.name not in leave_out
        }
        return {"type": "object", "properties": properties, **self.described(message.full_name)}

    def field(self, field: FieldDescriptor, *, output: bool) -> Schema:
        """The schema of a field's JSON value; on input `null` is accepted too."""
        if _is_map(field):
            value = self.single(field.message_type.fields_by_name["value"], output=output)
            schema: Schema = {"type": "object", "additionalProperties": value}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.single(field, output=output)}
        else:
            schema = self.single(field, output=output)
        return schema if output else _or_null(schema)

    def single(self, field: FieldDescriptor, *, output: bool) -> Schema:
        """The schema of one value of a field (one item of a repeated field), never null."""
        kind = field.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            return self.message(field.message_type, output=output)
        if kind == FieldDescriptor.TYPE_ENUM:
            return self._enum(field.enum_type, output=output)
        if kind in _INT_LIMITS:
            return _integer(*_INT_LIMITS[kind], output=output)
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            number_format = "double" if kind == FieldDescriptor.TYPE_DOUBLE else "float"
            return {"anyOf": [{"type": "number", "format": number_format}, _SPECIAL_FLOATS]}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        return {"type": "string"}

    def _enum(self, enum: EnumDescriptor, *, output: bool) -> Schema:
        name = enum.full_name if output else enum.full_name + INPUT_SUFFIX
        if name not in self.components:
            names: Schema = {"type": "string", "enum": [value.name for value in enum.values]}
            numbers: Schema = {"type": "integer", "enum": [value.number for value in enum.values]}
            if not output:
                schema: Schema = {"anyOf": [names, numbers]}
            elif enum.is_closed:
                schema = names
            else:
                schema = {"anyOf": [names, {"type": "integer", "format": "int32"}]}
            described = [
                f"{value.name}: {self.comments[f'{enum.full_name}.{value.name}']}"
                for value in enum.values
                if f"{enum.full_name}.{value.name}" in self.comments
            ]
            description = " ".join(filter(None, [self.comments.get(enum.full_name, ""), *described]))
            self.components[name] = {**schema, **({"description": description} if description else {})}
        return ref(name)


def ref(component: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{component}"}


def is_single_value(message: Descriptor) -> bool:
    """Whether a message's JSON form is one value set from one query string (a Timestamp, a wrapper),
    rather than an object whose fields are set one by one."""
    schema = _well_known(message, output=False)
    return schema is not None and "$ref" not in schema


def _well_known(message: Descriptor, output: bool) -> Schema | None:
    name = message.full_name
    if name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[name])
    if name == ANY_SCHEMA:
        return ref(ANY_SCHEMA)
    if name.startswith("google.protobuf.") and name.endswith("Value") and "value" in message.fields_by_name:
        return SchemaRegistry({}).single(message.fields_by_name["value"], output=output)
    return None


def _integer(number_format: str, minimum: int, maximum: int, *, output: bool) -> Schema:
    number: Schema = {"type": "integer", "format": number_format, "minimum": minimum, "maximum": maximum}
    decimal: Schema = {
        "type": "string",
        "format": number_format,
        "pattern": decimal_pattern(minimum, maximum),
    }
    if output:
        return decimal if number_format in _SIXTY_FOUR_BITS else number
    return {"anyOf": [number, decimal]}


def decimal_pattern(minimum: int, maximum: int) -> str:
    """A regex for exactly the decimal integers from `minimum` to `maximum` (minimum <= 0 < maximum)."""
    alternatives = ["0", _up_to(maximum)]
    if minimum < 0:
        alternatives.append("-" + _up_to(-minimum))
    return "^(" + "|".join(alternatives) + ")$"


def _up_to(limit: int) -> str:
    """A regex group for the decimal numbers from 1 to `limit`, without leading zeros."""
    digits = str(limit)
    alternatives = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        low = 1 if index == 0 else 0
        if int(digit) > low:
            rest = len(digits) - index - 1
            alternatives.append(f"{digits[:index]}[{low}-{int(digit) - 1}][0-9]{{{rest}}}")
    alternatives.append(digits)
    return "(" + "|".join(alternatives) + ")"


def _or_null(schema: Schema) -> Schema:
    if isinstance(schema.get("type"), str) and len(schema) == 1:
        return {"type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and bool(field.message_type.GetOptions().map_entry)
