"""The manifests name what the code does: commands, settings, metrics, streams and services."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.k8s.code import exports_metric, imported_files, main_accepts, proto_services, reads_setting
from tests.k8s.manifests import K8S, ROOT, env_of, farebox_workloads, of_kind, pod_spec, render

# Only composed into DATABASE_URL / REDIS_URL by the kubelet ($(VAR) expansion); no code reads them.
COMPOSITION_ONLY = {
    "DATABASE_PASSWORD",
    "DATABASE_HOST",
    "DATABASE_DIRECT_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    "DATABASE_USER",
    "DATABASE_SSLMODE",
    "REDIS_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
}


def _entry_module(command: list[str]) -> str:
    """The module a container's command runs: `python -m <package>` or the `farebox` script."""
    if command[:2] == ["python", "-m"]:
        return f"{command[2]}.__main__"
    assert command[0] == "farebox", command
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return str(scripts["farebox"]).split(":")[0]


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_every_command_exists(name: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    missing = []
    for doc in farebox_workloads(render(name)):
        for container in pod_spec(doc)["containers"]:
            command = container["command"]
            if command[0] == "farebox":
                if "farebox" not in scripts or not main_accepts("farebox_cli", command[1]):
                    missing.append(" ".join(command))
            elif not (ROOT / command[2] / "__main__.py").exists():
                missing.append(" ".join(command))
            elif command[3:] and not main_accepts(command[2], command[3]):
                missing.append(" ".join(command))
    assert missing == []


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_every_setting_the_manifests_pass_is_read_by_the_code(name: str) -> None:
    docs = render(name)
    unread = set()
    for doc in farebox_workloads(docs):
        for container in pod_spec(doc)["containers"]:
            module = _entry_module(container["command"])
            runs = imported_files(module)
            for variable in env_of(container, docs):
                if variable not in COMPOSITION_ONLY and not reads_setting(variable, *runs):
                    unread.add(f"{module}: {variable}")
    assert sorted(unread) == []


def _promql_series(query: str) -> set[str]:
    """The series a PromQL query selects: names followed by a label matcher or a range."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[)", query))


def test_keda_prometheus_triggers_read_series_the_code_exports() -> None:
    triggers = [
        trigger
        for doc in of_kind(render("overlay-prod"), "ScaledObject")
        for trigger in doc["spec"]["triggers"]
        if trigger["type"] == "prometheus"
    ]
    assert triggers
    for trigger in triggers:
        query = trigger["metadata"]["query"]
        series = _promql_series(query)
        assert series, query
        assert [name for name in series if not exports_metric(name)] == []
        for label, value in re.findall(r'(\w+)="([^"]*)"', query):
            if label == "grpc_service":
                assert value in proto_services(), value
            else:
                assert label == "namespace", label


def test_hpa_pod_metrics_come_from_exported_series() -> None:
    rules = yaml.safe_load((K8S / "components" / "hpa" / "prometheus-adapter-rules.yaml").read_text())[
        "rules"
    ]
    served = {}
    for rule in rules:
        series = re.match(r"(\w+)\{", rule["seriesQuery"])
        assert series is not None, rule
        exposed = re.sub(rule["name"]["matches"], rule["name"]["as"].replace("${1}", r"\1"), series.group(1))
        served[exposed] = series.group(1)
    for doc in of_kind(render("overlay-prod"), "HorizontalPodAutoscaler"):
        for metric in doc["spec"]["metrics"]:
            if metric["type"] == "Pods":
                name = metric["pods"]["metric"]["name"]
                assert name in served, f"{doc['metadata']['name']}: no adapter rule serves {name}"
                assert exports_metric(served[name]), served[name]


def test_keda_stream_trigger_names_the_stream_and_group_the_code_uses() -> None:
    docs = render("overlay-prod")
    triggers = [
        trigger
        for doc in of_kind(docs, "ScaledObject")
        for trigger in doc["spec"]["triggers"]
        if trigger["type"] == "redis-streams"
    ]
    assert triggers
    booking = {key: value for doc in of_kind(docs, "ConfigMap") for key, value in doc.get("data", {}).items()}
    for trigger in triggers:
        assert trigger["metadata"]["stream"] == booking["BOOKING_EVENTS_STREAM"]
        assert reads_setting("BOOKING_EVENTS_STREAM", "booking_service")
        assert (
            f'"{trigger["metadata"]["consumerGroup"]}"'
            in (ROOT / "booking_service" / "__main__.py").read_text()
        )
