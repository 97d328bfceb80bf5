"""The `//` comments of the .proto files, by element full name, for the OpenAPI descriptions.

Generated `_pb2` modules carry no source info, so the comments come from a FileDescriptorSet
written by `make gen` with `--include_source_info` (`farebox/descriptors.binpb`, shipped with the
stubs) or from the file GATEWAY_DESCRIPTOR_SET names. Without one the spec has no descriptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import structlog
from google.protobuf import descriptor_pb2

log = structlog.get_logger()

PACKAGED_DESCRIPTOR_SET = "descriptors.binpb"

# SourceCodeInfo path numbers (google/protobuf/descriptor.proto).
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE, _SERVICE_METHOD = 2, 2


def load_comments(path: Path | None) -> dict[str, str]:
    """Full name -> comment for every message, field, enum, value, service and method described."""
    data = _read(path)
    if data is None:
        return {}
    comments: dict[str, str] = {}
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        comments.update(file_comments(file))
    return comments


def _read(path: Path | None) -> bytes | None:
    if path is not None:
        return path.read_bytes()
    packaged = resources.files("farebox").joinpath(PACKAGED_DESCRIPTOR_SET)
    if not packaged.is_file():
        log.warning("proto_comments_missing", descriptor_set=PACKAGED_DESCRIPTOR_SET)
        return None
    return packaged.read_bytes()


def file_comments(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    """Full name -> leading (or trailing) comment of the elements of one .proto file."""
    by_path = {
        tuple(location.path): location.leading_comments or location.trailing_comments
        for location in file.source_code_info.location
    }
    comments: dict[str, str] = {}
    for name, path in _elements(file):
        text = _clean(by_path.get(path, ""))
        if text:
            comments[name] = text
    return comments


def _elements(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[str, tuple[int, ...]]]:
    prefix = file.package
    for index, message in enumerate(file.message_type):
        yield from _message_elements(message, f"{prefix}.{message.name}", (_FILE_MESSAGE, index))
    for index, enum in enumerate(file.enum_type):
        yield from _enum_elements(enum, f"{prefix}.{enum.name}", (_FILE_ENUM, index))
    for index, service in enumerate(file.service):
        name = f"{prefix}.{service.name}"
        yield name, (_FILE_SERVICE, index)
        for method_index, method in enumerate(service.method):
            yield f"{name}.{method.name}", (_FILE_SERVICE, index, _SERVICE_METHOD, method_index)


def _message_elements(
    message: descriptor_pb2.DescriptorProto, name: str, path: tuple[int, ...]
) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield name, path
    for index, field in enumerate(message.field):
        yield f"{name}.{field.name}", (*path, _MESSAGE_FIELD, index)
    for index, nested in enumerate(message.nested_type):
        yield from _message_elements(nested, f"{name}.{nested.name}", (*path, _MESSAGE_NESTED, index))
    for index, enum in enumerate(message.enum_type):
        yield from _enum_elements(enum, f"{name}.{enum.name}", (*path, _MESSAGE_ENUM, index))


def _enum_elements(
    enum: descriptor_pb2.EnumDescriptorProto, name: str, path: tuple[int, ...]
) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield name, path
    for index, value in enumerate(enum.value):
        yield f"{name}.{value.name}", (*path, _ENUM_VALUE, index)


def _clean(comment: str) -> str:
    return " ".join(line.strip() for line in comment.splitlines() if line.strip())
