"""Validation of rendered objects: built-in kinds against the Kubernetes 1.30 OpenAPI schemas that
kubernetes-validate ships (its strict variant, loaded once), custom resources against the schemas
vendored in k8s/crds/. A kind found in neither is an error, never a warning.

scripts/validate_k8s.sh also runs the kubernetes-validate CLI itself over every overlay.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

CRD_DIR = Path(__file__).resolve().parents[2] / "k8s" / "crds"
_SCHEMAS = resources.files("kubernetes_validate") / "kubernetes-json-schema" / "v1.30.0-local-strict"
# Vendored schemas refer to the Kubernetes definitions as /api/_definitions.json, like the built-in ones.
_CRD_ID = "https://kubernetes.io/api/crds/{}/{}"


def _closed(schema: Any) -> Any:
    """Every object schema with properties rejects unlisted fields, as the API server prunes them."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@functools.cache
def _registry() -> Registry:
    definitions = json.loads((_SCHEMAS / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _builtin_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """kubernetes-validate's strict schema for a built-in kind (its file naming), or None."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = _SCHEMAS / f"{kind.lower()}-{group_version}.json"
    if not schema_file.is_file():
        return None
    return jsonschema.Draft202012Validator(json.loads(schema_file.read_text()), registry=_registry())


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Each vendored schema file by (apiVersion, kind)."""
    found = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        entry = yaml.safe_load(path.read_text())
        found[(entry["apiVersion"], entry["kind"])] = entry
    return found


@functools.cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _closed(copy.deepcopy(crd_schemas()[(api_version, kind)]["schema"]))
    schema["$id"] = _CRD_ID.format(api_version, kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def problems(doc: dict[str, Any]) -> list[str]:
    """Why an object is invalid: empty when it validates against its kind's schema."""
    key = (doc["apiVersion"], doc["kind"])
    validator = _crd_validator(*key) if key in crd_schemas() else _builtin_validator(*key)
    if validator is None:
        return [f"unknown kind {doc['kind']} ({doc['apiVersion']}): no built-in or vendored schema"]
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(doc)
    ]
