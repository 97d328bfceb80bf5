"""A sample service with a field of every kind and every kind of HTTP rule, compiled for the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import annotations_pb2
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    field_mask_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor

from tests.unit.gateway.protoc import compile_descriptor_set

PROTOS = Path(__file__).parent / "protos"
# The sample's imports, loaded into the default pool before it.
IMPORTS = (annotations_pb2, duration_pb2, field_mask_pb2, timestamp_pb2, wrappers_pb2)
SAMPLE = "gatewaytest/v1/library.proto"


@pytest.fixture(scope="session")
def sample_descriptor_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled sample proto, with its comments."""
    return compile_descriptor_set(tmp_path_factory.mktemp("protos") / "sample.binpb", PROTOS, [SAMPLE])


@pytest.fixture(scope="session")
def sample_file(sample_descriptor_set: Path) -> FileDescriptor:
    """The sample file, added to the default pool once, after its imports."""
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName(SAMPLE)
    except KeyError:
        pass
    files = descriptor_pb2.FileDescriptorSet.FromString(sample_descriptor_set.read_bytes())
    return pool.AddSerializedFile(files.file[0].SerializeToString())


@pytest.fixture(scope="session")
def library(sample_file: FileDescriptor) -> ServiceDescriptor:
    """The sample Library service."""
    return sample_file.services_by_name["Library"]
