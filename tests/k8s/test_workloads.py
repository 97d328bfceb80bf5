"""Pods are probed, bounded, hardened, spread, labelled and drained as the issue asks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from common.settings import Env
from farebox_cli.services import GATEWAY, SERVICES, ServiceSpec, spec_named
from tests.k8s.manifests import (
    RENDERED,
    Manifest,
    containers,
    env_of,
    farebox_workloads,
    of_kind,
    pod_spec,
    render,
)

RECOMMENDED = ("app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of")
LONG_RUNNING = ("Deployment", "StatefulSet")
# Container port name -> the setting that binds it, after the service's prefix.
PORT_SETTINGS = {
    "grpc": "_PORT",
    "grpc-internal": "_INTERNAL_PORT",
    "health": "_HEALTH_PORT",
    "http": "_PORT",
    "metrics": "_METRICS_PORT",
}


def _workloads(name: str, *kinds: str) -> list[Manifest]:
    return of_kind(render(name), *(kinds or ("Deployment", "StatefulSet", "Job")))


def _label(doc: Manifest) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _spec_of(container: Manifest) -> ServiceSpec:
    """The platform's port plan (farebox_cli/services.py) of the service a container runs."""
    module = container["command"][2]
    return next(spec for spec in (*SERVICES, GATEWAY) if spec.module == module)


def _planned_port(spec: ServiceSpec, port_name: str) -> int:
    return {
        "grpc": spec.port,
        "grpc-internal": spec.internal_port,
        "health": spec.health_port,
        "http": spec.port,
        "metrics": spec.metrics_port,
    }[port_name]


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_long_running_container_has_readiness_and_liveness_probes(name: str) -> None:
    missing = [
        f"{_label(doc)}:{container['name']}:{probe}"
        for doc in _workloads(name, *LONG_RUNNING)
        for container in pod_spec(doc)["containers"]
        for probe in ("readinessProbe", "livenessProbe")
        if probe not in container
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_grpc_servers_use_native_grpc_probes(name: str) -> None:
    wrong = []
    for doc in _workloads(name, "Deployment"):
        for container in pod_spec(doc)["containers"]:
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            if "grpc" not in ports:
                continue
            # The gRPC ports are TLS (the internal one wants a client certificate): the kubelet can
            # only probe the plaintext health port.
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if container.get(probe, {}).get("grpc", {}).get("port") != ports.get("health"):
                    wrong.append(f"{_label(doc)}:{probe}")
    assert wrong == []


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_container_ports_are_the_ports_the_process_binds(name: str) -> None:
    docs = render(name)
    wrong = []
    for doc in farebox_workloads(docs):
        for container in pod_spec(doc)["containers"]:
            if container["command"][0] != "python":
                continue
            spec = _spec_of(container)
            env = env_of(container, docs)
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            if container["command"][3:]:
                expected = {"metrics"}
            elif spec.internal_port:
                expected = {"grpc", "grpc-internal", "health", "metrics"}
            else:
                expected = {"http", "metrics"}
            if set(ports) != expected:
                wrong.append(f"{_label(doc)}: ports {sorted(ports)}, expected {sorted(expected)}")
                continue
            for port_name, number in ports.items():
                setting = f"{spec.env_prefix}{PORT_SETTINGS[port_name]}"
                if env.get(setting) != str(number) or number != _planned_port(spec, port_name):
                    wrong.append(f"{_label(doc)}: {port_name} {number}, {setting}={env.get(setting)}")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_container_has_cpu_and_memory_requests_and_limits(name: str) -> None:
    missing = [
        f"{_label(doc)}:{container['name']}:{bound}.{resource}"
        for doc in _workloads(name)
        for container in containers(doc)
        for bound in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in container.get("resources", {}).get(bound, {})
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_pod_is_hardened(name: str) -> None:
    weak = []
    for doc in _workloads(name):
        spec = pod_spec(doc)
        pod = spec.get("securityContext", {})
        if (
            pod.get("runAsNonRoot") is not True
            or pod.get("seccompProfile", {}).get("type") != "RuntimeDefault"
        ):
            weak.append(f"{_label(doc)}: pod securityContext")
        if spec.get("automountServiceAccountToken") is not False:
            weak.append(f"{_label(doc)}: service account token mounted")
        for container in containers(doc):
            context = container.get("securityContext", {})
            if (
                context.get("allowPrivilegeEscalation") is not False
                or context.get("readOnlyRootFilesystem") is not True
                or context.get("privileged", False)
                or "ALL" not in context.get("capabilities", {}).get("drop", [])
            ):
                weak.append(f"{_label(doc)}:{container['name']}: container securityContext")
    assert weak == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_selectors_match_pod_labels(name: str) -> None:
    docs = render(name)
    pods = {
        _label(doc): doc["spec"]["template"]["metadata"]["labels"]
        for doc in of_kind(docs, "Deployment", "StatefulSet", "Job")
    }
    deployments = {doc["metadata"]["name"] for doc in of_kind(docs, "Deployment")}

    def selects(selector: dict[str, str]) -> list[str]:
        return [pod for pod, labels in pods.items() if selector.items() <= labels.items()]

    unmatched = []
    for doc in of_kind(docs, "Deployment", "StatefulSet"):
        if selects(doc["spec"]["selector"]["matchLabels"]) != [_label(doc)]:
            unmatched.append(_label(doc))
    for doc in of_kind(docs, "Service"):
        if not selects(doc["spec"]["selector"]):
            unmatched.append(_label(doc))
    for doc in of_kind(docs, "PodDisruptionBudget", "PodMonitor"):
        if not selects(doc["spec"]["selector"]["matchLabels"]):
            unmatched.append(_label(doc))
    for doc in of_kind(docs, "HorizontalPodAutoscaler", "ScaledObject"):
        if doc["spec"]["scaleTargetRef"]["name"] not in deployments:
            unmatched.append(_label(doc))
    assert unmatched == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_service_ports_name_container_ports(name: str) -> None:
    docs = render(name)
    wrong = []
    for service in of_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        for doc in of_kind(docs, "Deployment", "StatefulSet"):
            if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items():
                names = {port["name"] for c in containers(doc) for port in c.get("ports", [])}
                wrong += [
                    f"{_label(service)}:{port['targetPort']}"
                    for port in service["spec"]["ports"]
                    if port["targetPort"] not in names
                ]
    assert wrong == []


def test_no_deployment_is_scaled_by_both_an_hpa_and_a_scaled_object() -> None:
    for name in RENDERED:
        docs = render(name)
        by_hpa = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "HorizontalPodAutoscaler")}
        by_keda = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "ScaledObject")}
        assert by_hpa & by_keda == set(), name


def test_prod_autoscales_every_scaled_service_and_dev_none() -> None:
    prod, dev = render("overlay-prod"), render("overlay-dev")
    scaled = {
        doc["spec"]["scaleTargetRef"]["name"]
        for doc in of_kind(prod, "HorizontalPodAutoscaler", "ScaledObject")
    }
    assert scaled == {"gateway", "seat", "booking", "payment", "notifications"}
    assert of_kind(dev, "HorizontalPodAutoscaler", "ScaledObject") == []
    keda = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(prod, "ScaledObject")}
    assert (keda["booking"]["minReplicaCount"], keda["booking"]["maxReplicaCount"]) == (5, 50)
    assert (keda["payment"]["minReplicaCount"], keda["payment"]["maxReplicaCount"]) == (5, 50)


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    prod = render("overlay-prod")
    scaled = {
        doc["spec"]["scaleTargetRef"]["name"]
        for doc in of_kind(prod, "HorizontalPodAutoscaler", "ScaledObject")
    }
    pinned = [doc["metadata"]["name"] for doc in of_kind(prod, "Deployment") if "replicas" in doc["spec"]]
    assert set(pinned) & scaled == set()


def test_dev_runs_one_replica_of_everything() -> None:
    counts = {
        doc["metadata"]["name"]: doc["spec"].get("replicas", 1)
        for doc in _workloads("overlay-dev", *LONG_RUNNING)
    }
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_termination_grace_outlasts_the_drain(name: str) -> None:
    docs = render(name)
    short = []
    for doc in farebox_workloads(docs):
        if doc["kind"] == "Job":
            continue
        for container in pod_spec(doc)["containers"]:
            env = env_of(container, docs)
            graces = [Env(env).duration(key, timedelta()) for key in env if key.endswith("_SHUTDOWN_GRACE")]
            assert graces, f"{_label(doc)} sets no *_SHUTDOWN_GRACE"
            pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            needed = pause + max(graces).total_seconds()
            if pod_spec(doc)["terminationGracePeriodSeconds"] <= needed:
                short.append(f"{_label(doc)}: {pod_spec(doc)['terminationGracePeriodSeconds']}s <= {needed}s")
    assert short == []


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_farebox_workloads_carry_the_recommended_labels(name: str) -> None:
    missing = []
    for doc in farebox_workloads(render(name)):
        labels = doc["metadata"]["labels"]
        template = doc["spec"]["template"]["metadata"]["labels"]
        missing += [
            f"{_label(doc)}: {key}"
            for key in (*RECOMMENDED, "app.kubernetes.io/version")
            if key not in labels
        ]
        missing += [
            f"{_label(doc)} pods: {key}"
            for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version")
            if key not in template
        ]
    assert missing == []


def test_farebox_deployments_spread_across_zones() -> None:
    unspread = [
        _label(doc)
        for doc in farebox_workloads(render("overlay-prod"))
        if doc["kind"] == "Deployment"
        and "topology.kubernetes.io/zone"
        not in {c["topologyKey"] for c in pod_spec(doc).get("topologySpreadConstraints", [])}
    ]
    assert unspread == []


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_targets_dial_the_public_or_internal_port_through_the_headless_service(name: str) -> None:
    """The gateway and booking call the internal ports (farebox_cli/services.py)."""
    docs = render(name)
    headless = {
        doc["metadata"]["name"]: {port["port"] for port in doc["spec"]["ports"]}
        for doc in of_kind(docs, "Service")
        if doc["spec"].get("clusterIP") == "None"
    }
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    pattern = re.compile(rf"^dns:///([a-z0-9-]+)\.{namespace}\.svc\.cluster\.local:(\d+)$")
    wrong, dialled = [], set()
    for doc in farebox_workloads(docs):
        for container in pod_spec(doc)["containers"]:
            if container["command"][0] != "python":
                continue
            spec = _spec_of(container)
            env = env_of(container, docs)
            targets = {key: value for key, value in env.items() if key.endswith("_TARGET")}
            if container["command"][3:]:
                wrong += [f"{_label(doc)} dials nothing, yet has {key}" for key in targets]
                continue
            assert set(targets) == set(spec.targets), _label(doc)
            for key, value in targets.items():
                callee, which = spec.targets[key]
                port = spec_named(callee).address(which).rsplit(":", 1)[1]
                match = pattern.match(value)
                if (
                    match is None
                    or match.group(1) != f"{callee}-headless"
                    or match.group(2) != port
                    or int(port) not in headless.get(match.group(1), set())
                ):
                    wrong.append(f"{_label(doc)}: {key}={value}, expected {callee}-headless:{port} ({which})")
                dialled.add(key)
    assert dialled == {"SEAT_TARGET", "PAYMENT_TARGET", "BOOKING_TARGET"}
    assert wrong == []


def test_mtls_certificates_cover_every_target_host_and_are_mounted() -> None:
    docs = render("overlay-prod")
    names = {name for cert in of_kind(docs, "Certificate") for name in cert["spec"].get("dnsNames", [])}
    hosts = {
        value.removeprefix("dns:///").rsplit(":", 1)[0]
        for config in of_kind(docs, "ConfigMap")
        for key, value in config.get("data", {}).items()
        if key.endswith("_TARGET")
    }
    assert hosts - names == set()
    secrets = {cert["spec"]["secretName"] for cert in of_kind(docs, "Certificate")}
    for doc in of_kind(docs, "Deployment"):
        for container in pod_spec(doc)["containers"]:
            if "FAREBOX_TLS_CERT" in env_of(container, docs):
                volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
                assert volumes["tls"]["secret"]["secretName"] in secrets, _label(doc)


@pytest.mark.parametrize("name", ["overlay-dev", "overlay-prod"])
def test_every_grpc_server_and_caller_runs_tls(name: str) -> None:
    """Plaintext would make every caller anonymous, so booking could not call seat and payment."""
    docs = render(name)
    plaintext = []
    for doc in farebox_workloads(docs):
        for container in pod_spec(doc)["containers"]:
            env = env_of(container, docs)
            ports = {port["name"] for port in container.get("ports", [])}
            if "grpc" in ports or any(key.endswith("_TARGET") for key in env):
                tls = all(f"FAREBOX_TLS_{part}" in env for part in ("CA", "CERT", "KEY"))
                if not tls or env.get("FAREBOX_INSECURE_DEV", "false") != "false":
                    plaintext.append(_label(doc))
    assert plaintext == []
