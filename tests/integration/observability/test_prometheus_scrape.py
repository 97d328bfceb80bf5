"""A real Prometheus scrapes the /metrics endpoint, evaluates the alert rules and the dashboard's queries."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import wrappers_pb2

from common.client_metrics import client_metrics_interceptors
from common.domain_metrics import domain_metrics
from common.interceptors.metrics import ServerMetricsInterceptor
from common.metrics import start_metrics_server
from tests.integration.observability.probe_service import SERVICE, count_stub, echo_stub, start_probe
from tests.integration.observability.prometheus_server import PrometheusServer, start_prometheus
from tests.integration.observability.samples import sample

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "observability" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "observability" / "grafana" / "farebox-dashboard.json"
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "5m",
    "$job": ".*",
    "$grpc_service": ".*",
    "$grpc_method": ".*",
}


@dataclass
class Stack:
    prometheus: PrometheusServer
    probe: str


@pytest.fixture(scope="module")
def prometheus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prometheus")


@pytest.fixture(scope="module")
async def stack(prometheus_dir: Path) -> AsyncIterator[Stack]:
    server, address = await start_probe([ServerMetricsInterceptor()])
    domain_metrics().oversold_seat_segments.set(0)  # earlier tests in this process may have set it
    endpoint = start_metrics_server("127.0.0.1", 0)
    with start_prometheus(
        prometheus_dir, {"probe": [f"127.0.0.1:{endpoint.port}"]}, rule_files=[ALERTS]
    ) as prometheus:
        await asyncio.to_thread(prometheus.wait_for_targets_up, 1)
        yield Stack(prometheus=prometheus, probe=address)
    endpoint.stop()
    await server.stop(None)


@pytest.fixture
def oversold() -> Iterator[None]:
    yield
    domain_metrics().oversold_seat_segments.set(0)


async def test_scraped_series_match_the_calls_made(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.probe, interceptors=client_metrics_interceptors()) as channel:
        for _ in range(5):
            await echo_stub(channel)(wrappers_pb2.StringValue(value="scraped"))
        with pytest.raises(grpc.aio.AioRpcError):
            await echo_stub(channel)(wrappers_pb2.StringValue(value="abort:INTERNAL"))
        assert [reply.value async for reply in count_stub(channel)(wrappers_pb2.Int32Value(value=3))] == [
            0,
            1,
            2,
        ]

    checks = [
        ("grpc_server_handled_total", {"grpc_type": "UNARY", "grpc_method": "Echo", "grpc_code": "OK"}),
        ("grpc_server_handled_total", {"grpc_type": "UNARY", "grpc_method": "Echo", "grpc_code": "INTERNAL"}),
        ("grpc_server_msg_sent_total", {"grpc_type": "SERVER_STREAMING", "grpc_method": "Count"}),
        ("grpc_client_handled_total", {"grpc_type": "UNARY", "grpc_method": "Echo", "grpc_code": "OK"}),
    ]
    for name, labels in checks:
        expected = sample(name, grpc_service=SERVICE, **labels)
        assert expected >= 1
        selector = ", ".join(
            f'{key}="{value}"' for key, value in {"job": "probe", "grpc_service": SERVICE, **labels}.items()
        )
        expr = f"{name}{{{selector}}}"
        assert await asyncio.to_thread(stack.prometheus.wait_for_value, expr, expected) == expected, expr


async def test_an_oversold_seat_fires_its_alert(stack: Stack, oversold: None) -> None:
    firing = 'count(ALERTS{alertname="FareboxOversoldSeat", alertstate="firing", severity="critical"})'
    assert stack.prometheus.value(firing) is None
    domain_metrics().oversold_seat_segments.set(1)
    assert await asyncio.to_thread(stack.prometheus.wait_for_value, firing, 1.0) == 1.0


async def test_every_alert_rule_evaluates_cleanly(stack: Stack) -> None:
    rules = await asyncio.to_thread(stack.prometheus.rules)
    assert len(rules) == len(re.findall(r"^\s+- alert: ", ALERTS.read_text(), re.MULTILINE))
    for rule in rules:
        assert rule.get("lastError", "") == "", rule


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
                expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
            queries.append(expr)
    return queries


async def test_every_dashboard_query_is_valid_promql(stack: Stack) -> None:
    queries = dashboard_queries()
    assert len(queries) > 20
    for expr in queries:
        await asyncio.to_thread(stack.prometheus.query, expr)  # raises PrometheusError on a bad query
