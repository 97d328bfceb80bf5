#!/usr/bin/env bash
# Generates the Python, .pyi and gRPC stubs of every Farebox proto into the given folder (default gen/).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gen}"
python="${PYTHON:-.venv/bin/python}"
rm -rf "$out/farebox"
mkdir -p "$out"
mapfile -t protos < <(find proto/farebox -name '*.proto' | sort)
"$python" -m grpc_tools.protoc -I proto --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${protos[@]}"
find "$out/farebox" -type d -exec touch {}/__init__.py \;
