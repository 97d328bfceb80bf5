"""The driver's command line: ghz's options (`--call`, `-d`, `-m`, `-c`, `-n`, `-z`, `--rps`, ...).

`python -m benchmarks [options] host` or `python -m benchmarks --config file.json [options]`;
options given on the command line override the config file, as in ghz. Two options are ours:
`--stubs` (take the messages from the generated stubs instead of server reflection) and `--procs`
(driver processes; default one per core, at most four).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import driver
from benchmarks.descriptors import DescriptorError
from benchmarks.options import OptionsError, RunOptions, from_config, load_config
from benchmarks.report import csv_text, summary_text
from benchmarks.settings import BenchSettings

# (flags, ghz config key, argparse kind): kind "json" parses the value as JSON, "flag" is a switch.
_OPTIONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("--call",), "call", "str"),
    (("--proto",), "proto", "str"),
    (("--protoset",), "protoset", "str"),
    (("-i", "--import-paths"), "import-paths", "str"),
    (("--cacert",), "cacert", "str"),
    (("--cert",), "cert", "str"),
    (("--key",), "key", "str"),
    (("--cname",), "cname", "str"),
    (("--skipTLS",), "skipTLS", "flag"),
    (("--insecure",), "insecure", "flag"),
    (("--authority",), "authority", "str"),
    (("--async",), "async", "flag"),
    (("-r", "--rps"), "rps", "int"),
    (("--load-schedule",), "load-schedule", "str"),
    (("--load-start",), "load-start", "int"),
    (("--load-step",), "load-step", "int"),
    (("--load-end",), "load-end", "int"),
    (("--load-step-duration",), "load-step-duration", "str"),
    (("--load-max-duration",), "load-max-duration", "str"),
    (("-c", "--concurrency"), "concurrency", "int"),
    (("-n", "--total"), "total", "int"),
    (("-t", "--timeout"), "timeout", "str"),
    (("-z", "--duration"), "duration", "str"),
    (("-x", "--max-duration"), "max-duration", "str"),
    (("--duration-stop",), "duration-stop", "str"),
    (("-d", "--data"), "data", "json"),
    (("-D", "--data-file"), "data-file", "str"),
    (("-b", "--binary"), "binary-file", "flag"),
    (("-B", "--binary-file"), "binary-file", "str"),
    (("-m", "--metadata"), "metadata", "json"),
    (("-M", "--metadata-file"), "metadata-file", "str"),
    (("--stream-call-duration",), "stream-call-duration", "str"),
    (("--stream-call-count",), "stream-call-count", "int"),
    (("--reflect-metadata",), "reflect-metadata", "json"),
    (("-o", "--output"), "output", "str"),
    (("-O", "--format"), "format", "str"),
    (("--skipFirst",), "skipFirst", "int"),
    (("--count-errors",), "count-errors", "flag"),
    (("--connections",), "connections", "int"),
    (("--connect-timeout",), "connect-timeout", "str"),
    (("--keepalive",), "keepalive", "str"),
    (("--name",), "name", "str"),
    (("--tags",), "tags", "json"),
    (("--cpus",), "cpus", "int"),
    (("-e", "--enable-compression"), "enable-compression", "flag"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="A ghz-compatible gRPC load driver (scenarios: python -m benchmarks all --help).",
    )
    parser.add_argument("--config", type=Path, help="a ghz JSON config file")
    for flags, key, kind in _OPTIONS:
        if kind == "flag":
            parser.add_argument(*flags, dest=key, action="store_true", default=None)
        else:
            parser.add_argument(*flags, dest=key, type=int if kind == "int" else str, default=None)
    parser.add_argument("--stubs", action="store_true", help="build messages from the generated stubs")
    parser.add_argument(
        "--procs", type=int, default=0, help="driver processes (default: one per core, max 4)"
    )
    parser.add_argument("host", nargs="?", help="host:port of the server")
    return parser


def options_from_args(argv: list[str]) -> RunOptions:
    """RunOptions from a command line: the config file first, then the options given."""
    args = _parser().parse_args(argv)
    given: dict[str, Any] = {}
    for _, key, kind in _OPTIONS:
        value = getattr(args, key)
        if value is None:
            continue
        if kind == "json":
            text = sys.stdin.read() if value == "@" else value
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise OptionsError(f"{key}: not JSON: {error}") from error
        given[key] = value
    if args.host:
        given["host"] = args.host
    base = load_config(args.config) if args.config else RunOptions()
    options = from_config(given, base)
    return options.with_overrides(use_stubs=args.stubs or options.use_stubs, processes=args.procs)


def render(report: dict[str, Any], output_format: str) -> str:
    """The report in one of ghz's formats."""
    if output_format == "json":
        return json.dumps(report, ensure_ascii=False)
    if output_format == "pretty":
        return json.dumps(report, indent=2, ensure_ascii=False)
    if output_format == "csv":
        return csv_text(report)
    return summary_text(report)


def main(argv: list[str]) -> int:
    """Runs the driver; errors in calls are in the report, errors of the run exit 1."""
    try:
        options = options_from_args(argv)
        result = driver.run(
            options,
            BenchSettings.from_env().template_environment,
            details=options.format in ("json", "pretty", "csv"),
        )
    except (OptionsError, driver.DriverError, DescriptorError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = render(result.report, options.format)
    if options.output:
        Path(options.output).write_text(text + ("" if text.endswith("\n") else "\n"))
    else:
        print(text)
    return 0
