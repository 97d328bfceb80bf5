#!/usr/bin/env bash
# Fails when gen/ differs from what the protos generate now.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
scripts/generate_stubs.sh "$fresh"
if ! diff -r -q gen/farebox "$fresh/farebox"; then
  echo "gen/ is stale: run 'make gen' and commit the result" >&2
  exit 1
fi
echo "gen/ is fresh"
