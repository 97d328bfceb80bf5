"""The driver's run options, read from a ghz config file and/or ghz-style command-line options.

The config keys are ghz's (bojand/ghz `runner/config.go`, the `Config` struct's JSON tags, and the
flags documented at ghz.sh/docs/options); a command-line option overrides the config file, as in
ghz. Keys we parse but cannot honour (proto files, binary data, async) are refused with a reason
instead of being ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
SCHEDULES = ("const", "step", "line")
DURATION_STOPS = ("close", "wait", "ignore")
FORMATS = ("summary", "json", "pretty", "csv")


class OptionsError(ValueError):
    """A config or option that the driver cannot run."""


def parse_go_duration(value: Any, key: str) -> float:
    """Seconds in a Go duration such as "1m30s", "250ms" or "0"; bare numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text in ("", "0"):
        return 0.0
    position, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise OptionsError(f"{key}: {value!r} is not a duration such as 250ms, 10s or 1m30s")
    return total


@dataclass(frozen=True)
class RunOptions:
    """One driver run, with ghz's defaults (total 200, concurrency 50, timeout 20s ...)."""

    call: str = ""
    host: str = ""
    protoset: str = ""
    data: Any = None
    data_file: str = ""
    metadata: Mapping[str, str] | None = None
    metadata_file: str = ""
    reflect_metadata: Mapping[str, str] | None = None
    total: int = 200
    concurrency: int = 50
    connections: int = 1
    rps: int = 0
    load_schedule: str = "const"
    load_start: int = 0
    load_end: int = 0
    load_step: int = 0
    load_step_duration: float = 0.0
    load_max_duration: float = 0.0
    duration: float = 0.0
    max_duration: float = 0.0
    duration_stop: str = "close"
    timeout: float = 20.0
    connect_timeout: float = 10.0
    keepalive: float = 0.0
    insecure: bool = False
    cacert: str = ""
    cert: str = ""
    key: str = ""
    cname: str = ""
    authority: str = ""
    skip_first: int = 0
    count_errors: bool = False
    stream_call_duration: float = 0.0
    stream_call_count: int = 0
    enable_compression: bool = False
    name: str = ""
    tags: Mapping[str, str] | None = None
    output: str = ""
    format: str = "summary"
    cpus: int = 0
    use_stubs: bool = False
    processes: int = 0
    unsupported: tuple[str, ...] = field(default=())

    def with_overrides(self, **changes: Any) -> RunOptions:
        """A copy with some options replaced."""
        return replace(self, **changes)

    def validate(self) -> RunOptions:
        """Raises OptionsError for a run that cannot start; returns self."""
        if self.unsupported:
            raise OptionsError("unsupported ghz options: " + "; ".join(self.unsupported))
        if not self.call:
            raise OptionsError(
                "call: a method such as farebox.seat.v1.SeatInventoryService.HoldSeats is required"
            )
        if not self.host:
            raise OptionsError("host: an address such as 127.0.0.1:50051 is required")
        if self.data is not None and self.data_file:
            raise OptionsError("data and data-file are exclusive")
        if self.concurrency < 1 or self.connections < 1:
            raise OptionsError("concurrency and connections must be at least 1")
        if self.connections > self.concurrency:
            raise OptionsError("connections cannot exceed concurrency")
        if self.load_schedule not in SCHEDULES:
            raise OptionsError(f"load-schedule must be one of {', '.join(SCHEDULES)}")
        if self.load_schedule != "const" and self.load_start <= 0:
            raise OptionsError("load-start must be above 0 for step and line schedules")
        if self.load_schedule == "step" and self.load_step_duration <= 0:
            raise OptionsError("load-step-duration must be above 0 for a step schedule")
        if self.duration_stop not in DURATION_STOPS:
            raise OptionsError(f"duration-stop must be one of {', '.join(DURATION_STOPS)}")
        if self.format not in FORMATS:
            raise OptionsError(f"format must be one of {', '.join(FORMATS)}")
        if bool(self.cert) != bool(self.key):
            raise OptionsError("cert and key go together")
        return self

    @property
    def open_loop(self) -> bool:
        """True when send times are fixed in advance by a rate (rps or a load schedule)."""
        return self.rps > 0 or self.load_schedule != "const"

    @property
    def run_seconds(self) -> float:
        """How long requests are sent for: duration, else max-duration, else 0 (until total)."""
        return self.duration or self.max_duration

    @property
    def request_limit(self) -> int | None:
        """The number of requests to send, or None when only the duration bounds the run (-z)."""
        return None if self.duration > 0 else self.total


# ghz config key -> (RunOptions field, kind). Kinds: str, int, bool, duration, map, data.
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "call": ("call", "str"),
    "host": ("host", "str"),
    "protoset": ("protoset", "str"),
    "data": ("data", "data"),
    "data-file": ("data_file", "str"),
    "metadata": ("metadata", "map"),
    "metadata-file": ("metadata_file", "str"),
    "reflect-metadata": ("reflect_metadata", "map"),
    "total": ("total", "int"),
    "concurrency": ("concurrency", "int"),
    "connections": ("connections", "int"),
    "rps": ("rps", "int"),
    "load-schedule": ("load_schedule", "str"),
    "load-start": ("load_start", "int"),
    "load-end": ("load_end", "int"),
    "load-step": ("load_step", "int"),
    "load-step-duration": ("load_step_duration", "duration"),
    "load-max-duration": ("load_max_duration", "duration"),
    "duration": ("duration", "duration"),
    "max-duration": ("max_duration", "duration"),
    "duration-stop": ("duration_stop", "str"),
    "timeout": ("timeout", "duration"),
    "connect-timeout": ("connect_timeout", "duration"),
    "keepalive": ("keepalive", "duration"),
    "insecure": ("insecure", "bool"),
    "cacert": ("cacert", "str"),
    "cert": ("cert", "str"),
    "key": ("key", "str"),
    "cname": ("cname", "str"),
    "authority": ("authority", "str"),
    "skipFirst": ("skip_first", "int"),
    "count-errors": ("count_errors", "bool"),
    "stream-call-duration": ("stream_call_duration", "duration"),
    "stream-call-count": ("stream_call_count", "int"),
    "enable-compression": ("enable_compression", "bool"),
    "name": ("name", "str"),
    "tags": ("tags", "map"),
    "output": ("output", "str"),
    "format": ("format", "str"),
    "cpus": ("cpus", "int"),
}

# ghz keys the driver refuses, with the reason given to the user.
REFUSED_KEYS: dict[str, str] = {
    "proto": "compile-free runs only: use server reflection (the default) or --protoset",
    "import-paths": "compile-free runs only: use server reflection or --protoset",
    "binary-file": "binary call data is not supported: give JSON data",
    "async": "asynchronous mode is not supported: use --rps for an open-loop run",
    "skipTLS": "grpc-python cannot skip server verification: give --cacert",
    "concurrency-schedule": "only a constant concurrency is supported",
    "lb-strategy": "the driver connects to one address",
}

# ghz keys accepted and ignored because they change nothing in this driver.
IGNORED_KEYS = frozenset(
    {
        "concurrency-start",
        "concurrency-end",
        "concurrency-step",
        "concurrency-step-duration",
        "concurrency-max-duration",
        "stream-interval",
        "stream-dynamic-messages",
        "max-recv-message-size",
        "max-send-message-size",
        "debug",
        "disable-template-functions",
        "disable-template-data",
    }
)


def _convert(key: str, kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise OptionsError(f"{key}: expected a string, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise OptionsError(f"{key}: expected a non-negative integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionsError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind == "duration":
        return parse_go_duration(value, key)
    if kind == "map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise OptionsError(f"{key}: expected an object of strings, got {value!r}")
        return dict(value)
    if not isinstance(value, dict | list) or (isinstance(value, list) and not value):
        raise OptionsError(f"{key}: expected an object or a non-empty array of objects")
    if isinstance(value, list) and not all(isinstance(item, dict) for item in value):
        raise OptionsError(f"{key}: every element of the data array must be an object")
    return value


def from_config(config: Mapping[str, Any], base: RunOptions | None = None) -> RunOptions:
    """Options from a parsed ghz config; unknown keys are errors, as a typo would be."""
    changes: dict[str, Any] = {}
    unsupported: list[str] = []
    for key, value in config.items():
        if key in CONFIG_KEYS:
            name, kind = CONFIG_KEYS[key]
            changes[name] = _convert(key, kind, value)
        elif key in REFUSED_KEYS:
            if value not in (None, "", False, 0, []):
                unsupported.append(f"{key} ({REFUSED_KEYS[key]})")
        elif key not in IGNORED_KEYS:
            raise OptionsError(f"unknown ghz config key {key!r}")
    if changes.get("load_schedule") is not None:
        changes["load_schedule"] = changes["load_schedule"].lower()
    if changes.get("duration_stop") is not None:
        changes["duration_stop"] = changes["duration_stop"].lower()
    options = replace(base or RunOptions(), **changes)
    if unsupported:
        options = replace(options, unsupported=(*options.unsupported, *unsupported))
    return options


def load_config(path: Path, base: RunOptions | None = None) -> RunOptions:
    """Options from a ghz JSON config file."""
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise OptionsError(f"cannot read config {path}: {error}") from error
    if not isinstance(config, dict):
        raise OptionsError(f"config {path} must hold a JSON object")
    return from_config(config, base)


def resolve_files(options: RunOptions) -> RunOptions:
    """Reads data-file and metadata-file into data and metadata."""
    changes: dict[str, Any] = {}
    if options.data_file:
        changes["data"] = _convert("data-file", "data", _read_json(options.data_file))
        changes["data_file"] = ""
    if options.metadata_file:
        changes["metadata"] = _convert("metadata-file", "map", _read_json(options.metadata_file))
        changes["metadata_file"] = ""
    return replace(options, **changes)


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise OptionsError(f"cannot read {path}: {error}") from error
