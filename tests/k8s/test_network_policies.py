"""Default deny, then exactly the flows the suite needs: each allowed flow is listed here with the
code that makes the call (checked by reading the sources) or, for the platform's own traffic, why
the cluster needs it. A rendered flow missing from the table, or a listed flow no longer rendered,
fails; so does a code reference that no longer holds, a target a workload dials that its policies
do not allow, or a policy that opens a health port (only the kubelet probes those, from the pod's
own node, which NetworkPolicies always allow)."""

from __future__ import annotations

import re
from typing import Any

from tests.k8s.code import reads_setting, source
from tests.k8s.manifests import env_of, farebox_workloads, of_kind, pod_spec, render

Flow = tuple[str, str, str, int]  # (direction, selected pods, peer, port)

# Evidence: ("reads", packages, setting) -> the packages read that setting; ("calls", packages or
# .py files, text) -> the text occurs in their code; ("platform", reason).
Evidence = tuple[str, ...]


def _metrics(package: str) -> Evidence:
    return ("calls", f"{package},common/server.py", "start_metrics_server(")


_SEAT = ("calls", "booking_service", "SeatInventoryServiceStub")
_PAYMENT = ("calls", "booking_service", "PaymentServiceStub")
_PG = {pkg: ("reads", pkg, "DATABASE_URL") for pkg in ("seat_service", "payment_service", "booking_service")}
_REDIS = {pkg: ("reads", pkg, "REDIS_URL") for pkg in ("seat_service", "booking_service")}
_OPERATOR = ("platform", "operator-managed store internals (replication, failover, status)")
_K8S_API = (
    "platform",
    "the CloudNativePG instance manager watches the Kubernetes API; backups go to object storage",
)

FLOWS: dict[Flow, Evidence] = {
    # The public API; the translator and the booking saga call the internal ports.
    ("ingress", "gateway", "ns:ingress-nginx", 8080): ("reads", "common,gateway", "GATEWAY_PORT"),
    ("egress", "gateway", "seat", 50151): ("reads", "gateway", "SEAT_TARGET"),
    ("ingress", "seat", "gateway", 50151): ("reads", "gateway", "SEAT_TARGET"),
    ("egress", "gateway", "booking", 50153): ("reads", "gateway", "BOOKING_TARGET"),
    ("ingress", "booking", "gateway", 50153): ("reads", "gateway", "BOOKING_TARGET"),
    ("egress", "booking", "seat", 50151): _SEAT,
    ("ingress", "seat", "booking", 50151): _SEAT,
    ("egress", "booking", "payment", 50152): _PAYMENT,
    ("ingress", "payment", "booking", 50152): _PAYMENT,
    # Prometheus scrapes every process's metrics endpoint.
    ("ingress", "seat", "ns:monitoring", 9101): _metrics("seat_service"),
    ("ingress", "payment", "ns:monitoring", 9102): _metrics("payment_service"),
    ("ingress", "booking", "ns:monitoring", 9103): _metrics("booking_service"),
    ("ingress", "booking-relay", "ns:monitoring", 9103): _metrics("booking_service"),
    ("ingress", "notifications", "ns:monitoring", 9103): _metrics("booking_service"),
    ("ingress", "gateway", "ns:monitoring", 9104): _metrics("gateway"),
    # The stores.
    ("egress", "seat", "postgres-pooler", 5432): _PG["seat_service"],
    ("egress", "payment", "postgres-pooler", 5432): _PG["payment_service"],
    ("egress", "booking", "postgres-pooler", 5432): _PG["booking_service"],
    ("egress", "booking-relay", "postgres-pooler", 5432): _PG["booking_service"],
    ("egress", "notifications", "postgres-pooler", 5432): _PG["booking_service"],
    ("ingress", "postgres-pooler", "seat", 5432): _PG["seat_service"],
    ("ingress", "postgres-pooler", "payment", 5432): _PG["payment_service"],
    ("ingress", "postgres-pooler", "booking", 5432): _PG["booking_service"],
    ("ingress", "postgres-pooler", "booking-relay", 5432): _PG["booking_service"],
    ("ingress", "postgres-pooler", "notifications", 5432): _PG["booking_service"],
    ("egress", "farebox-migrate", "postgres", 5432): ("reads", "farebox_cli", "DATABASE_URL"),
    ("ingress", "postgres", "farebox-migrate", 5432): ("reads", "farebox_cli", "DATABASE_URL"),
    ("egress", "seat", "redis", 6379): _REDIS["seat_service"],
    ("egress", "booking", "redis", 6379): _REDIS["booking_service"],
    ("egress", "booking-relay", "redis", 6379): _REDIS["booking_service"],
    ("egress", "notifications", "redis", 6379): _REDIS["booking_service"],
    ("ingress", "redis", "seat", 6379): _REDIS["seat_service"],
    ("ingress", "redis", "booking", 6379): _REDIS["booking_service"],
    ("ingress", "redis", "booking-relay", 6379): _REDIS["booking_service"],
    ("ingress", "redis", "notifications", 6379): _REDIS["booking_service"],
    ("ingress", "redis", "ns:keda", 6379): (
        "platform",
        "KEDA's redis-streams scaler reads the consumer group's lag",
    ),
    # Name resolution for the dns:/// targets and the stores.
    ("egress", "*", "kube-dns", 53): ("platform", "cluster DNS"),
    # The operators' own traffic inside the stores.
    ("egress", "postgres-pooler", "postgres", 5432): _OPERATOR,
    ("ingress", "postgres", "postgres-pooler", 5432): _OPERATOR,
    ("ingress", "postgres", "postgres", 5432): _OPERATOR,
    ("egress", "postgres", "postgres", 5432): _OPERATOR,
    ("ingress", "postgres", "ns:cnpg-system", 8000): _OPERATOR,
    ("ingress", "postgres", "ns:monitoring", 9187): (
        "platform",
        "Prometheus scrapes the PostgreSQL exporter",
    ),
    ("ingress", "postgres-pooler", "ns:monitoring", 9127): (
        "platform",
        "Prometheus scrapes the PgBouncer exporter",
    ),
    ("egress", "postgres", "cidr:0.0.0.0/0", 443): _K8S_API,
    ("egress", "postgres", "cidr:0.0.0.0/0", 6443): _K8S_API,
    ("egress", "postgres-pooler", "cidr:0.0.0.0/0", 443): _K8S_API,
    ("egress", "postgres-pooler", "cidr:0.0.0.0/0", 6443): _K8S_API,
    ("ingress", "redis", "redis", 6379): _OPERATOR,
    ("egress", "redis", "redis", 6379): _OPERATOR,
    ("ingress", "redis", "sentinel", 6379): _OPERATOR,
    ("egress", "sentinel", "redis", 6379): _OPERATOR,
    ("ingress", "sentinel", "sentinel", 26379): _OPERATOR,
    ("egress", "sentinel", "sentinel", 26379): _OPERATOR,
    ("ingress", "redis", "ns:redis-operator", 6379): _OPERATOR,
    ("ingress", "sentinel", "ns:redis-operator", 26379): _OPERATOR,
    ("ingress", "redis", "ns:monitoring", 9121): ("platform", "Prometheus scrapes redis_exporter"),
}


def _identity(selector: dict[str, Any]) -> str:
    labels = selector.get("matchLabels", {})
    if not labels:
        return "*"
    if "cnpg.io/podRole" in labels:
        return {"pooler": "postgres-pooler", "instance": "postgres"}[labels["cnpg.io/podRole"]]
    if labels.get("app.kubernetes.io/name") == "farebox-redis":
        return {"redis": "redis", "sentinel": "sentinel"}[labels["app.kubernetes.io/component"]]
    if labels.get("k8s-app") == "kube-dns":
        return "kube-dns"
    assert labels.get("app.kubernetes.io/instance") == "farebox", labels
    return str(labels["app.kubernetes.io/name"])


def _peer(peer: dict[str, Any]) -> str:
    if "ipBlock" in peer:
        return f"cidr:{peer['ipBlock']['cidr']}"
    if "podSelector" in peer:
        return _identity(peer["podSelector"])
    return f"ns:{peer['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name']}"


def rendered_flows() -> set[Flow]:
    """Every (direction, pods, peer, port) the prod overlay's NetworkPolicies allow."""
    flows = set()
    for policy in of_kind(render("overlay-prod"), "NetworkPolicy"):
        subject = _identity(policy["spec"]["podSelector"])
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in policy["spec"].get(direction, []):
                for peer in rule[key]:
                    for port in rule["ports"]:
                        flows.add((direction, subject, _peer(peer), port["port"]))
    return flows


def test_every_namespace_pod_is_denied_by_default() -> None:
    deny = [
        p for p in of_kind(render("overlay-prod"), "NetworkPolicy") if p["metadata"]["name"] == "default-deny"
    ]
    assert len(deny) == 1
    assert deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_policies_allow_exactly_the_listed_flows() -> None:
    rendered = rendered_flows()
    assert {"unlisted": sorted(rendered - set(FLOWS)), "not rendered": sorted(set(FLOWS) - rendered)} == {
        "unlisted": [],
        "not rendered": [],
    }


def test_every_listed_flow_matches_a_call_in_the_code() -> None:
    unsupported = []
    for flow, evidence in FLOWS.items():
        kind, *detail = evidence
        if kind == "reads":
            packages, setting = detail
            held = reads_setting(setting, *packages.split(","))
        elif kind == "calls":
            packages, text = detail
            held = text in source(*packages.split(","))
        else:
            held = kind == "platform" and bool(detail[0])
        if not held:
            unsupported.append(f"{flow}: {evidence}")
    assert unsupported == []


def test_every_farebox_pod_is_selected_by_its_own_policy() -> None:
    docs = render("overlay-prod")
    selected = {_identity(p["spec"]["podSelector"]) for p in of_kind(docs, "NetworkPolicy")}
    workloads = {doc["metadata"]["name"] for doc in of_kind(docs, "Deployment", "Job")}
    assert workloads - selected == set()


def test_every_target_a_workload_dials_is_allowed_both_ways() -> None:
    docs = render("overlay-prod")
    rendered = rendered_flows()
    missing = []
    for doc in farebox_workloads(docs):
        caller = doc["metadata"]["name"]
        for container in pod_spec(doc)["containers"]:
            for key, value in env_of(container, docs).items():
                if not key.endswith("_TARGET"):
                    continue
                target = re.fullmatch(r"dns:///([a-z0-9-]+?)(?:-headless)?\.[^:]+:(\d+)", value)
                assert target is not None, f"{caller}: {key}={value}"
                callee, port = target.group(1), int(target.group(2))
                for flow in (("egress", caller, callee, port), ("ingress", callee, caller, port)):
                    if flow not in rendered:
                        missing.append(f"{key}: {flow}")
    assert missing == []


def test_no_policy_admits_anyone_to_a_health_port() -> None:
    docs = render("overlay-prod")
    health = {
        (doc["metadata"]["name"], port["containerPort"])
        for doc in farebox_workloads(docs)
        for container in pod_spec(doc)["containers"]
        for port in container.get("ports", [])
        if port["name"] == "health"
    }
    assert health
    admitted = {(pods, port) for direction, pods, _, port in rendered_flows() if direction == "ingress"}
    assert admitted & health == set()
