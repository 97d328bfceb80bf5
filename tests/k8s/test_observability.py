"""The observability component carries the current alert rules and dashboard, not stale copies."""

from __future__ import annotations

import json

import yaml

from k8s.tools import sync_observability
from tests.k8s.manifests import named, render


def test_copies_match_their_sources() -> None:
    stale = [
        str(path.relative_to(sync_observability.ROOT))
        for path, text in sync_observability.expected().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "run: python k8s/tools/sync_observability.py"


def test_prometheus_rule_carries_every_alert_group() -> None:
    rule = named(render("overlay-prod"), "PrometheusRule", "farebox-alerts")
    groups = yaml.safe_load(sync_observability.ALERTS.read_text())["groups"]
    assert groups
    assert rule["spec"]["groups"] == groups


def test_dashboard_config_map_carries_the_dashboard() -> None:
    config_map = named(render("overlay-prod"), "ConfigMap", "farebox-grafana-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(config_map["data"][sync_observability.DASHBOARD.name])
    assert shipped == json.loads(sync_observability.DASHBOARD.read_text())
