"""Metric names are a contract: the catalog is documented, and alerts and dashboards name only real series."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

import common.domain_metrics
from common.client_metrics import client_metrics
from common.domain_metrics import DomainMetrics, domain_metrics
from common.interceptors.metrics import GrpcMetrics, server_metrics

ROOT = Path(__file__).resolve().parents[3]
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("", "_bucket", "_count", "_sum")}


def exposed(metrics: DomainMetrics | GrpcMetrics) -> dict[str, str]:
    """Each metric's exposed name (counters with `_total`) and its type."""
    names = {}
    for metric in vars(metrics).values():
        assert isinstance(metric, MetricWrapperBase)
        family = metric.describe()[0]
        names[family.name + ("_total" if family.type == "counter" else "")] = family.type
    return names


def series_names(metrics: DomainMetrics | GrpcMetrics) -> set[str]:
    """Every sample name the metrics can expose."""
    return {
        (name.removesuffix("_total") if kind == "counter" else name) + suffix
        for name, kind in exposed(metrics).items()
        for suffix in SUFFIXES[kind]
    }


def referenced(text: str) -> set[str]:
    return set(re.findall(r"\b((?:farebox|grpc_server|grpc_client)_[a-z_]+)", text))


def test_domain_metrics_are_prefixed_and_documented() -> None:
    names = exposed(domain_metrics())
    assert all(name.startswith("farebox_") for name in names)
    documented = re.findall(r"^(farebox_\w+)\s+(\w+)", common.domain_metrics.__doc__ or "", re.MULTILINE)
    assert dict(documented) == names


def test_grpc_series_carry_py_grpc_prometheus_names() -> None:
    assert exposed(server_metrics()) == {
        "grpc_server_started_total": "counter",
        "grpc_server_handled_total": "counter",
        "grpc_server_msg_received_total": "counter",
        "grpc_server_msg_sent_total": "counter",
        "grpc_server_handling_seconds": "histogram",
    }
    assert exposed(client_metrics()) == {
        "grpc_client_started_total": "counter",
        "grpc_client_handled_total": "counter",
        "grpc_client_msg_received_total": "counter",
        "grpc_client_msg_sent_total": "counter",
        "grpc_client_handling_seconds": "histogram",
    }


def test_alerts_and_dashboard_name_only_real_series() -> None:
    known = series_names(domain_metrics()) | series_names(server_metrics()) | series_names(client_metrics())
    for path in (
        ROOT / "observability" / "prometheus" / "alerts.yml",
        ROOT / "observability" / "grafana" / "farebox-dashboard.json",
    ):
        names = referenced(path.read_text())
        assert names, path
        assert names <= known, (path.name, names - known)


def test_dashboard_covers_every_domain_metric() -> None:
    dashboard = (ROOT / "observability" / "grafana" / "farebox-dashboard.json").read_text()
    assert [name for name in exposed(domain_metrics()) if name not in dashboard] == []
