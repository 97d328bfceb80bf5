"""The image: a pinned base, a non-root final stage without build tools, every package copied."""

from __future__ import annotations

import re
import tomllib

from tests.k8s.manifests import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text().splitlines()
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "git", "curl", "wget")


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def _packages() -> set[str]:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    names = {pattern.rstrip("*") for pattern in include["include"]}
    return {name for name in names if (ROOT / name).is_dir()}


def test_every_stage_uses_the_same_exactly_pinned_base() -> None:
    bases = {stage.split()[0] for stage in _stages()}
    assert len(bases) == 1
    image, _, tag = bases.pop().partition(":")
    assert image == "python"
    assert re.fullmatch(r"3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", tag), tag


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = _stages()[-1]
    users = re.findall(r"^USER (\d+)(?::(\d+))?$", final, re.M)
    assert users and all(int(uid) >= 10000 for uid, _ in users)


def test_final_stage_installs_no_build_tools_and_keeps_no_pip() -> None:
    final = _stages()[-1]
    assert "apt-get install" not in final
    assert not any(re.search(rf"\b{re.escape(tool)}\b", final) for tool in BUILD_TOOLS)
    assert "pip uninstall --yes pip" in _stages()[0]


def test_every_package_is_copied_and_in_the_build_context() -> None:
    packages = _packages() | {"gen"}
    copied = set(re.findall(r"^COPY (\w+)/ ", DOCKERFILE, re.M))
    allowed = {line.strip("!/") for line in DOCKERIGNORE if line.startswith("!")}
    assert packages - copied == set()
    assert packages - allowed == set()
    assert {"pyproject.toml", "README.md"} <= allowed
