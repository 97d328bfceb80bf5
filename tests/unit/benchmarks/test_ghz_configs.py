"""Every ghz config in benchmarks/ghz follows ghz's documented config format, and our driver runs it.

The schema below is ghz's, written down as data:
- bojand/ghz `runner/config.go`, the `Config` struct's JSON tags (commit 37ed69e0), which is what
  `ghz --config file.json` unmarshals (via `runner.LoadConfig`, jinzhu/configor);
- the options added after that struct and documented at https://ghz.sh/docs/options
  (www/docs/options.md): stream-call-duration, stream-call-count, stream-dynamic-messages,
  max-recv-message-size, max-send-message-size, count-errors, lb-strategy,
  disable-template-functions, disable-template-data.
Durations are Go duration strings ("10s", "1m30s"); data is an object or an array of objects.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks import descriptors
from benchmarks.calldata import CallFactory
from benchmarks.cli import options_from_args
from benchmarks.options import CONFIG_KEYS, IGNORED_KEYS, REFUSED_KEYS
from farebox_cli.services import spec_named

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "benchmarks" / "ghz").glob("*.json"))
GO_DURATION = re.compile(r"^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")

GHZ_CONFIG_SCHEMA: dict[str, str] = {
    # runner/config.go, Config struct
    "proto": "string",
    "protoset": "string",
    "call": "string",
    "cacert": "string",
    "cert": "string",
    "key": "string",
    "skipTLS": "bool",
    "skipFirst": "uint",
    "cname": "string",
    "authority": "string",
    "insecure": "bool",
    "total": "uint",
    "async": "bool",
    "concurrency": "uint",
    "concurrency-schedule": "string",
    "concurrency-start": "uint",
    "concurrency-end": "uint",
    "concurrency-step": "int",
    "concurrency-step-duration": "duration",
    "concurrency-max-duration": "duration",
    "connections": "uint",
    "rps": "uint",
    "duration": "duration",
    "duration-stop": "string",
    "max-duration": "duration",
    "timeout": "duration",
    "data": "data",
    "data-file": "string",
    "binary-file": "string",
    "metadata": "string map",
    "metadata-file": "string",
    "stream-interval": "duration",
    "output": "string",
    "format": "string",
    "connect-timeout": "duration",
    "keepalive": "duration",
    "cpus": "uint",
    "import-paths": "string list",
    "name": "string",
    "tags": "string map",
    "reflect-metadata": "string map",
    "debug": "string",
    "host": "string",
    "enable-compression": "bool",
    "load-schedule": "string",
    "load-start": "uint",
    "load-end": "uint",
    "load-step": "int",
    "load-step-duration": "duration",
    "load-max-duration": "duration",
    # ghz.sh/docs/options, later flags
    "stream-call-duration": "duration",
    "stream-call-count": "uint",
    "stream-dynamic-messages": "bool",
    "max-recv-message-size": "string",
    "max-send-message-size": "string",
    "count-errors": "bool",
    "lb-strategy": "string",
    "disable-template-functions": "bool",
    "disable-template-data": "bool",
}


def conforms(kind: str, value: Any) -> bool:
    """Whether a JSON value fits a schema kind."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("uint", "int"):
        return isinstance(value, int) and not isinstance(value, bool) and (kind == "int" or value >= 0)
    if kind == "duration":
        return isinstance(value, str) and GO_DURATION.match(value) is not None
    if kind == "string map":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "string list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    objects = value if isinstance(value, list) else [value]
    return bool(objects) and all(isinstance(item, dict) for item in objects)


def test_there_is_a_config_per_public_and_hot_internal_rpc() -> None:
    calls = {json.loads(path.read_text())["call"].rsplit(".", 1)[1] for path in CONFIGS}
    public = {"CreateTrip", "GetTrip", "ListTrips", "GetSeatMap", "WatchSeatMap"}
    public |= {"ReserveSeats", "ConfirmBooking", "CancelBooking", "GetBooking", "ListBookings"}
    assert calls >= public | {"HoldSeats", "AuthorizePayment"}


def test_the_driver_knows_every_ghz_key() -> None:
    assert set(CONFIG_KEYS) | set(REFUSED_KEYS) | IGNORED_KEYS == set(GHZ_CONFIG_SCHEMA)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_config_follows_the_ghz_schema(path: Path) -> None:
    config = json.loads(path.read_text())
    unknown = set(config) - set(GHZ_CONFIG_SCHEMA)
    assert not unknown, f"not ghz config keys: {unknown}"
    wrong = {key: value for key, value in config.items() if not conforms(GHZ_CONFIG_SCHEMA[key], value)}
    assert not wrong, f"values of the wrong type: {wrong}"
    assert config.get("insecure") is False and config.get("cacert"), "configs talk TLS to the services"
    assert not (set(config) & {"proto", "protoset", "import-paths"}), "configs use server reflection"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_driver_accepts_the_config(path: Path) -> None:
    options = options_from_args(["--config", str(path), "--stubs"]).validate()
    service, _ = descriptors.split_call(options.call)
    method = descriptors.resolve(descriptors.from_stubs(service).SerializeToString(), options.call)
    environment = {"FAREBOX_TOKEN": "t", "FAREBOX_OPERATOR_TOKEN": "o", "FAREBOX_BOOKING_ID": "b-1"}
    factory = CallFactory(method, options.data, options.metadata, environment)
    requests = [factory.prepare("g0c0", number) for number in range(6)]
    assert all(request for request, _ in requests)
    if re.search(r"\.RequestNumber|\.UUID|random", json.dumps(options.data)):
        assert len({request for request, _ in requests}) == len(requests), (
            "templates vary the request per call"
        )


def test_mutating_configs_send_an_idempotency_key_and_internal_ones_use_mtls() -> None:
    for path in CONFIGS:
        config = json.loads(path.read_text())
        items = config["data"] if isinstance(config["data"], list) else [config["data"]]
        method = config["call"].rsplit(".", 1)[1]
        if method in {
            "CreateTrip",
            "HoldSeats",
            "ReserveSeats",
            "ConfirmBooking",
            "CancelBooking",
            "AuthorizePayment",
        }:
            assert all(item.get("request_id") == "{{.UUID}}" for item in items), path.name
        if method in {"HoldSeats", "AuthorizePayment"}:
            assert config.get("cert") and config.get("key"), path.name
        else:
            assert config["metadata"]["authorization"].startswith("Bearer {{env"), path.name


def test_internal_configs_reach_internal_ports_and_public_ones_public_ports() -> None:
    for path in CONFIGS:
        config = json.loads(path.read_text())
        spec = spec_named(config["call"].split(".")[1])
        internal = config["call"].rsplit(".", 1)[1] in {"HoldSeats", "AuthorizePayment"}
        port = spec.internal_port if internal else spec.port
        assert config["host"] == f"127.0.0.1:{port}", path.name
        assert "authorization" not in config["metadata"] if internal else config["cacert"], path.name
