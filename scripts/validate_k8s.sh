#!/usr/bin/env bash
# Offline validation of the Kubernetes packaging and the image's contents:
#   1. the observability copies match their sources (k8s/tools/sync_observability.py --check);
#   2. every overlay and listed component combination renders (kubectl kustomize) and its built-in
#      kinds pass kubernetes-validate --strict against Kubernetes 1.30;
#   3. tests/k8s: custom resources against k8s/crds/, probes, hardening, selectors, autoscaling,
#      network-policy flows against the code;
#   4. the Docker build context (.dockerignore allow-list) builds a wheel holding every migration,
#      Lua script and descriptor set of the tree;
#   5. checkov (its own venv, .venv-checkov, created on first use) over the rendered manifests and
#      the Dockerfile, with no failed check; skips are justified where they are declared.
# Usage: scripts/validate_k8s.sh [--no-checkov]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
CHECKOV_VENV=.venv-checkov
CHECKOV_VERSION=3.3.30
KUBERNETES_VERSION=1.30.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== observability copies"
"$PY" k8s/tools/sync_observability.py --check

echo "== render and validate built-in kinds (Kubernetes $KUBERNETES_VERSION, strict)"
mkdir -p "$work/rendered"
for dir in k8s/overlays/* tests/k8s/kustomizations/*; do
  name=$(echo "$dir" | tr / _)
  kubectl kustomize "$dir" > "$work/rendered/$name.yaml"
  # Custom resources are validated by tests/k8s against k8s/crds/; here they only warn.
  "$(dirname "$PY")/kubernetes-validate" --strict --quiet --no-warn -k "$KUBERNETES_VERSION" \
    "$work/rendered/$name.yaml"
  echo "ok $dir"
done

echo "== tests/k8s"
"$PY" -m pytest -q -p no:cacheprovider tests/k8s

echo "== image contents (the Docker build context builds a complete wheel)"
mkdir -p "$work/context" "$work/wheel"
tar --exclude='__pycache__' --exclude='*.pyc' -cf - pyproject.toml README.md gen common seat_service \
  payment_service booking_service gateway farebox_cli | tar -xf - -C "$work/context"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/wheel" "$work/context"
"$PY" - "$work/wheel" <<'PYEOF'
import sys, zipfile
from pathlib import Path

wheel = next(Path(sys.argv[1]).glob("*.whl"))
packaged = set(zipfile.ZipFile(wheel).namelist())
wanted = {
    str(path.relative_to(root))
    for root, pattern in [(Path("."), "*/migrations/*.sql"), (Path("."), "*/lua/*.lua"), (Path("gen"), "**/*.binpb")]
    for path in root.glob(pattern)
}
missing = sorted(wanted - packaged)
if missing:
    sys.exit(f"the image would lack: {missing} (add their patterns to [tool.setuptools.package-data])")
print(f"ok {wheel.name}: {len(wanted)} data files present")
PYEOF

if [[ "${1:-}" == "--no-checkov" ]]; then
  exit 0
fi
echo "== checkov $CHECKOV_VERSION"
if [[ ! -x "$CHECKOV_VENV/bin/checkov" ]]; then
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
"$CHECKOV_VENV/bin/checkov" --directory "$work/rendered" --framework kubernetes --skip-download --quiet --compact
"$CHECKOV_VENV/bin/checkov" --file Dockerfile --framework dockerfile --skip-download --quiet --compact
