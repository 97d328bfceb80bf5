#!/usr/bin/env bash
# Fails when the protos break compatibility with the previous commit (buf FILE rules).
set -euo pipefail
cd "$(dirname "$0")/.."
buf="${1:-buf}"
against="${BUF_BREAKING_AGAINST:-HEAD~1}"
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "buf breaking: no commit '$against' to compare with; nothing to check"
  exit 0
fi
if ! git cat-file -e "$against:proto" 2>/dev/null; then
  echo "buf breaking: '$against' has no proto/; nothing to check"
  exit 0
fi
"$buf" breaking --against ".git#ref=$against"
echo "buf breaking: no break against $against"
