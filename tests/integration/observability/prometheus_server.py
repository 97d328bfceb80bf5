"""A real Prometheus (Debian's `prometheus` package) for tests: scrape targets, rules, the query API.

    with start_prometheus(tmp_path, {"seat": ["127.0.0.1:9464"]}) as prometheus:
        prometheus.wait_for_targets_up(1)
        prometheus.wait_for_value('sum(grpc_server_handled_total{grpc_code="OK"})', 3)

Every address is on the loopback interface and the port is a free one; the server stops with the
`with` block.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BINARY = "prometheus"


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error."""


@dataclass
class PrometheusServer:
    """A running Prometheus and its HTTP API."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a GET on `/api/v1/<path>`; raises PrometheusError on an error answer."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now: a list of {metric, value}."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def value(self, expr: str) -> float | None:
        """The single value of `expr` now, None when it has no result."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"{expr} has {len(result)} series, expected one")
        return float(result[0]["value"][1])

    def wait_for_value(self, expr: str, expected: float, timeout: float = 30.0) -> float | None:
        """Polls until `expr` equals `expected` (scrapes land every interval); returns the last value."""
        deadline = time.monotonic() + timeout
        value = self.value(expr)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.25)
            value = self.value(expr)
        return value

    def wait_for_targets_up(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Polls until `count` active targets have been scraped successfully; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            targets = self.api("targets", state="active")["activeTargets"]
            if sum(1 for target in targets if target["health"] == "up") >= count:
                return list(targets)
            if time.monotonic() >= deadline:
                raise PrometheusError(f"targets not up: {targets}")
            time.sleep(0.25)

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule, with its health and last error."""
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(
    path: Path, targets: Mapping[str, Sequence[str]], scrape_interval: str, rule_files: Sequence[Path]
) -> None:
    """A Prometheus config scraping each job's static targets at /metrics."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(rule_file) for rule_file in rule_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": list(addresses)}]}
            for job, addresses in targets.items()
        ],
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML


@contextmanager
def start_prometheus(
    directory: Path,
    targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    startup_timeout: float = 30.0,
) -> Iterator[PrometheusServer]:
    """Runs Prometheus on a free loopback port with its data in `directory` until the block ends."""
    binary = shutil.which(BINARY)
    if binary is None:
        raise PrometheusError("prometheus is not installed: apt-get install -y prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    write_config(config, targets, scrape_interval, rule_files)
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_ready(server, startup_timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: PrometheusServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PrometheusError(f"prometheus exited: {server.log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise PrometheusError(f"prometheus not ready after {timeout}s: {server.log_path.read_text()[-2000:]}")
