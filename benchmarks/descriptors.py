"""Request and response message classes for a method, from server reflection, the stubs or a protoset.

The parent process resolves the method once and hands the driver processes a serialized
FileDescriptorSet (the method's file and everything it imports, dependencies first); each process
builds its own descriptor pool and message classes from it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_reflection.v1alpha import reflection_pb2

STUB_PACKAGES = ("farebox",)
REFLECTION_PATHS = (
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
)


class DescriptorError(RuntimeError):
    """The method or its messages cannot be found."""


def split_call(call: str) -> tuple[str, str]:
    """(service, method) from `package.Service/Method` or `package.Service.Method`."""
    service, slash, method = call.rpartition("/")
    if not slash:
        service, _, method = call.rpartition(".")
    if not service or not method:
        raise DescriptorError(f"call {call!r} is not package.Service/Method or package.Service.Method")
    return service, method


def _ordered(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> descriptor_pb2.FileDescriptorSet:
    """The files with every dependency before its dependents."""
    by_name = {f.name: f for f in files}
    ordered: list[descriptor_pb2.FileDescriptorProto] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name not in by_name:
            raise DescriptorError(f"descriptor of {name} is missing")
        for dependency in by_name[name].dependency:
            visit(dependency)
        ordered.append(by_name[name])

    for name in by_name:
        visit(name)
    return descriptor_pb2.FileDescriptorSet(file=ordered)


def from_reflection(
    channel: grpc.Channel, service: str, metadata: Mapping[str, str] | None, timeout: float
) -> descriptor_pb2.FileDescriptorSet:
    """The files defining `service`, asked of the server's reflection service.

    Like ghz, it asks grpc.reflection.v1 first and falls back to v1alpha (same messages).
    """
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = [reflection_pb2.ServerReflectionRequest(file_containing_symbol=service)]
    paths = list(REFLECTION_PATHS)
    while pending:
        try:
            responses = _ask(channel, paths[0], pending, metadata, timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED and len(paths) > 1:
                paths.pop(0)
                continue
            raise DescriptorError(
                f"server reflection failed: {error.code().name} {error.details()}"
            ) from error
        for response in responses:
            if response.HasField("error_response"):
                raise DescriptorError(
                    f"server reflection: {service}: {response.error_response.error_message}"
                )
            for raw in response.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files[proto.name] = proto
        missing = {d for f in files.values() for d in f.dependency} - set(files)
        pending = [reflection_pb2.ServerReflectionRequest(file_by_filename=name) for name in sorted(missing)]
    return _ordered(files.values())


def _ask(
    channel: grpc.Channel,
    path: str,
    requests: list[reflection_pb2.ServerReflectionRequest],
    metadata: Mapping[str, str] | None,
    timeout: float,
) -> list[reflection_pb2.ServerReflectionResponse]:
    call = channel.stream_stream(
        path,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return list(call(iter(requests), metadata=tuple((metadata or {}).items()), timeout=timeout))


def from_stubs(service: str) -> descriptor_pb2.FileDescriptorSet:
    """The files defining `service`, from the generated stubs installed with the project."""
    for package_name in STUB_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if module.name.endswith("_pb2"):
                importlib.import_module(module.name)
    pool = descriptor_pool.Default()
    try:
        found = pool.FindServiceByName(service).file
    except KeyError:
        raise DescriptorError(f"service {service} is not in the generated stubs") from None
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def collect(file: Any) -> None:
        if file.name not in files:
            files[file.name] = descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb)
            for dependency in file.dependencies:
                collect(dependency)

    collect(found)
    return _ordered(files.values())


def from_protoset(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """The files of a protoset (`protoc --descriptor_set_out --include_imports`)."""
    return _ordered(descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file)


@dataclass(frozen=True)
class MethodInfo:
    """What ghz's call template data says about the method."""

    path: str
    fully_qualified_name: str
    method_name: str
    service_name: str
    input_name: str
    output_name: str
    client_streaming: bool
    server_streaming: bool


@dataclass(frozen=True)
class ResolvedMethod:
    """A method with its message classes."""

    info: MethodInfo
    request_class: type[Message]
    response_class: type[Message]


def resolve(serialized_set: bytes, call: str) -> ResolvedMethod:
    """The method named by `call`, with message classes built from a serialized FileDescriptorSet."""
    service_name, method_name = split_call(call)
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(serialized_set).file:
        pool.AddSerializedFile(file.SerializeToString())
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        raise DescriptorError(f"service {service_name} not found") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise DescriptorError(f"method {method_name} not found in {service_name}")
    info = MethodInfo(
        path=f"/{service.full_name}/{method.name}",
        fully_qualified_name=f"{service.full_name}.{method.name}",
        method_name=method.name,
        service_name=service.name,
        input_name=method.input_type.name,
        output_name=method.output_type.name,
        client_streaming=method.client_streaming,
        server_streaming=method.server_streaming,
    )
    return ResolvedMethod(
        info=info,
        request_class=message_factory.GetMessageClass(method.input_type),
        response_class=message_factory.GetMessageClass(method.output_type),
    )
