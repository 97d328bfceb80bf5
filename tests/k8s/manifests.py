"""Renders the kustomizations under test and indexes what they produce.

Every overlay and every listed component combination is rendered once per session with
`kubectl kustomize`; tests read the parsed objects from here.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = {name: K8S / "overlays" / name for name in ("dev", "prod")}
COMBINATIONS = {
    path.name: path for path in sorted((Path(__file__).parent / "kustomizations").iterdir()) if path.is_dir()
}
RENDERED = {**{f"overlay-{name}": path for name, path in OVERLAYS.items()}, **COMBINATIONS}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")

Manifest = dict[str, Any]


def kubectl() -> str:
    """The kubectl binary; its built-in kustomize renders offline."""
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is required to render k8s/ (its built-in kustomize runs offline)")
    return found


@functools.cache
def render(name: str) -> tuple[Manifest, ...]:
    """The objects a listed kustomization renders to, in order."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(RENDERED[name])], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {RENDERED[name]} failed:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(docs: tuple[Manifest, ...], *kinds: str) -> list[Manifest]:
    """The objects of the given kinds."""
    return [doc for doc in docs if doc["kind"] in kinds]


def named(docs: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    """The one object of a kind with a name."""
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Manifest) -> Manifest:
    """The pod spec of a Deployment, StatefulSet or Job."""
    return workload["spec"]["template"]["spec"]


def containers(workload: Manifest) -> Iterator[Manifest]:
    """The workload's containers and init containers."""
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def farebox_workloads(docs: tuple[Manifest, ...]) -> list[Manifest]:
    """The workloads built from the Farebox image (not the dev stores)."""
    return [
        doc
        for doc in of_kind(docs, *WORKLOAD_KINDS)
        if any(container["image"].split(":")[0].endswith("farebox") for container in containers(doc))
    ]


def env_of(container: Manifest, docs: tuple[Manifest, ...]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env values."""
    env: dict[str, str] = {}
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in of_kind(docs, "ConfigMap")}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", "<from secret>")
    return env
