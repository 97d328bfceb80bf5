"""Every overlay and listed component combination renders, and every object validates."""

from __future__ import annotations

import copy

import pytest

from tests.k8s.manifests import RENDERED, named, render
from tests.k8s.schemas import crd_schemas, problems


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_renders_to_valid_objects(name: str) -> None:
    invalid = {
        f"{doc['kind']}/{doc['metadata']['name']}": found for doc in render(name) if (found := problems(doc))
    }
    assert invalid == {}


def test_every_vendored_schema_is_used_by_prod() -> None:
    used = {(doc["apiVersion"], doc["kind"]) for doc in render("overlay-prod")}
    assert set(crd_schemas()) - used == set()


def test_an_unknown_kind_is_an_error() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert problems(doc) == ["unknown kind Widget (example.com/v1): no built-in or vendored schema"]


@pytest.mark.parametrize(
    ("kind", "name", "path"),
    [
        ("ScaledObject", "booking", ("spec", "triggers", 0)),
        ("Cluster", "farebox-postgres", ("spec", "backup", "barmanObjectStore")),
        ("Deployment", "seat", ("spec", "template", "spec", "containers", 0)),
        ("RedisFailover", "farebox-redis", ("spec", "redis")),
    ],
)
def test_a_misspelled_field_is_an_error(kind: str, name: str, path: tuple[object, ...]) -> None:
    doc = copy.deepcopy(named(render("overlay-prod"), kind, name))
    target = doc
    for step in path:
        target = target[step]
    target["misspeltField"] = "x"
    assert any("misspeltField" in problem for problem in problems(doc))
