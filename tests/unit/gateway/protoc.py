"""Compiles .proto files to a FileDescriptorSet with source info, as `make gen` ships one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[3]
PROTO_ROOT = REPO / "proto"


def compile_descriptor_set(out: Path, proto_root: Path, files: list[str]) -> Path:
    """A FileDescriptorSet of `files` (relative to `proto_root`) with their comments."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{PROTO_ROOT}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *files,
        ],
        check=True,
    )
    return out


def farebox_descriptor_set(out: Path) -> Path:
    """The descriptor set of every Farebox contract."""
    files = sorted(str(path.relative_to(PROTO_ROOT)) for path in (PROTO_ROOT / "farebox").rglob("*.proto"))
    return compile_descriptor_set(out, PROTO_ROOT, files)
