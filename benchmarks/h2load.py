"""The h2load recipe: raw HTTP/2 capacity with pre-encoded gRPC frames, where a Python client's own
cost would dominate.

A gRPC request body is one frame: a 0 byte (not compressed), the message length as 4 bytes big
endian, then the protobuf. h2load (Debian `nghttp2-client`) posts that body with the gRPC headers;
it counts HTTP 200 as success even when grpc-status says otherwise, so check the server side too.

    python -m benchmarks.h2load --call farebox.bench.v1.EchoService.Echo -d '{"payload": "hi"}' \\
        --rps 200 -c 4 -z 10s 127.0.0.1:50051

renders request 0 of the data (h2load sends the same bytes every time), writes the frame, runs

    h2load -c 4 -m 16 --rps 50 -D 10000ms -d frame.bin --log-file requests.tsv \\
        -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:50051/<package.Service>/<Method>

and prints the count, the rate, h2load's own CPU use and ghz's latency percentiles from h2load's
per-request log. `--rps 0` runs as fast as the server answers (the capacity, with `-m` streams in
flight per connection). h2load speaks cleartext HTTP/2 here: point it at a plaintext port.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import descriptors
from benchmarks.calldata import CallFactory
from benchmarks.driver import descriptor_set
from benchmarks.options import RunOptions, parse_go_duration
from benchmarks.report import PERCENTILES, percentile
from benchmarks.settings import BenchSettings

STREAMS = 16


class H2loadError(RuntimeError):
    """h2load is missing or failed."""


def grpc_frame(message: bytes) -> bytes:
    """A length-prefixed gRPC message: flag byte 0, 4-byte big-endian length, the bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


@dataclass(frozen=True)
class H2loadRun:
    """What h2load did: its command, each request's status and latency, its own summary, and the
    CPU seconds it used over its wall time."""

    command: list[str]
    statuses: list[int]
    latencies_ns: list[int]
    output: str
    cpu_seconds: float
    wall_seconds: float

    @property
    def succeeded(self) -> int:
        """Requests answered with HTTP 200."""
        return sum(1 for status in self.statuses if status == 200)

    @property
    def rps(self) -> float:
        """Successful requests per second of wall time."""
        return self.succeeded / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def cores_used(self) -> float:
        """Average cores h2load kept busy (it runs one thread: at most 1)."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def ok_latencies_ns(self) -> list[int]:
        """Latencies of the requests answered with HTTP 200, sorted."""
        pairs = zip(self.latencies_ns, self.statuses, strict=True)
        return sorted(latency for latency, status in pairs if status == 200)

    def percentile_ms(self, percentage: int) -> float:
        """ghz's percentile of the successful requests' latency, in ms."""
        return percentile(self.ok_latencies_ns(), percentage) / 1e6


def command(
    host: str,
    path: str,
    frame: Path,
    log_file: Path,
    clients: int,
    rps: float,
    seconds: float,
    streams: int = STREAMS,
) -> list[str]:
    """The h2load command line for `rps` requests per second in total over `clients` connections.

    Each connection sends at `rps / clients` with up to `streams` streams in flight, so a slow
    answer does not hold back the next request; `rps` 0 sends as fast as the server answers.
    """
    executable = shutil.which("h2load")
    if executable is None:
        raise H2loadError("h2load not found: apt-get install -y nghttp2-client")
    rate = ["--rps", str(max(1, round(rps / clients)))] if rps > 0 else []
    return [
        executable,
        "-c",
        str(clients),
        "-m",
        str(streams),
        *rate,
        "-D",
        f"{round(seconds * 1000)}ms",
        "-d",
        str(frame),
        "--log-file",
        str(log_file),
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        f"http://{host}{path}",
    ]


def run(
    host: str, path: str, message: bytes, rps: float, clients: int, seconds: float, streams: int = STREAMS
) -> H2loadRun:
    """Runs h2load at a fixed rate (or flat out with `rps` 0) and reads its per-request log."""
    with tempfile.TemporaryDirectory(prefix="farebox-h2load-") as folder:
        frame, log_file = Path(folder) / "frame.bin", Path(folder) / "requests.tsv"
        frame.write_bytes(grpc_frame(message))
        argv = command(host, path, frame, log_file, clients, rps, seconds, streams)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds + 60)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise H2loadError(f"h2load exited {done.returncode}: {done.stderr or done.stdout}")
        statuses, latencies = [], []
        for line in log_file.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 3:
                statuses.append(int(fields[1]))
                latencies.append(int(fields[2]) * 1000)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return H2loadRun(argv, statuses, latencies, done.stdout, cpu, wall)


def main(argv: list[str] | None = None) -> int:
    """Entry point: render the request, run h2load, print a JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.h2load", description=__doc__)
    parser.add_argument("--call", required=True)
    parser.add_argument("-d", "--data", default="{}", help="JSON request data (templates rendered once)")
    parser.add_argument(
        "--stubs", action="store_true", help="messages from the generated stubs, not reflection"
    )
    parser.add_argument("-r", "--rps", type=float, required=True, help="0: as fast as the server answers")
    parser.add_argument("-c", "--clients", type=int, default=4)
    parser.add_argument("-m", "--streams", type=int, default=STREAMS, help="streams in flight per client")
    parser.add_argument("-z", "--duration", default="10s")
    parser.add_argument("host")
    args = parser.parse_args(argv)
    options = RunOptions(call=args.call, host=args.host, insecure=True, use_stubs=args.stubs)
    method = descriptors.resolve(descriptor_set(options, None), args.call)
    factory = CallFactory(method, json.loads(args.data), None, BenchSettings.from_env().template_environment)
    message, _ = factory.prepare("g0c0", 0)
    try:
        result = run(
            args.host,
            method.info.path,
            message,
            args.rps,
            args.clients,
            parse_go_duration(args.duration, "duration"),
            args.streams,
        )
    except H2loadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    summary = {
        "command": " ".join(result.command),
        "requests": len(result.statuses),
        "succeeded": result.succeeded,
        "rps": round(result.rps, 1),
        "h2loadCores": round(result.cores_used, 3),
        "latencyMs": {str(p): result.percentile_ms(p) for p in PERCENTILES},
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
