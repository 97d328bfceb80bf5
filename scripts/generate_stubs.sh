#!/usr/bin/env bash
# Generates the Python, .pyi and gRPC stubs of every Farebox proto, and their descriptor set with
# comments, into the given folder (default gen/).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gen}"
python="${PYTHON:-.venv/bin/python}"
rm -rf "$out/farebox"
mkdir -p "$out"
mapfile -t protos < <(find proto/farebox -name '*.proto' | sort)
"$python" -m grpc_tools.protoc -I proto --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${protos[@]}"
find "$out/farebox" -type d -exec touch {}/__init__.py \;
# The contracts with their comments (source info), read by the gateway for its OpenAPI descriptions.
"$python" -m grpc_tools.protoc -I proto --include_source_info --descriptor_set_out="$out/farebox/descriptors.binpb" "${protos[@]}"
