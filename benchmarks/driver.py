"""The ghz-compatible driver: resolve the method, run the driver processes, build ghz's report.

Several processes share the work (by default one per core, at most four) so the driver is less
often the bottleneck; each reports its own CPU time, and the report says when a driver process
kept a core busy (`driver.saturated`), because then the figures measure the driver, not the server.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2

from benchmarks import descriptors, procstat
from benchmarks.calldata import CallFactory
from benchmarks.options import RunOptions, resolve_files
from benchmarks.report import Samples, build_report
from benchmarks.schedule import RatePlan, plan_processes
from benchmarks.worker import TlsMaterial, WorkerOutput, WorkerPlan, process_main

SATURATED_CORE_SHARE = 0.9
MAX_DEFAULT_PROCESSES = 4
_START_DELAY_NS = 100_000_000
_SPAWN_SECONDS = 60.0


class DriverError(RuntimeError):
    """The run could not start or a driver process failed."""


@dataclass(frozen=True)
class DriverUsage:
    """The driver's own CPU use during the run."""

    processes: int
    cpu_seconds: float
    wall_seconds: float
    busiest_process: float
    machine_busy: float

    @property
    def saturated(self) -> bool:
        """True when some driver process kept (nearly) a whole core busy."""
        return self.busiest_process >= SATURATED_CORE_SHARE

    @property
    def cores_used(self) -> float:
        """Average cores the driver kept busy."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def tags(self) -> dict[str, str]:
        """The usage as report tags."""
        return {
            "driver.processes": str(self.processes),
            "driver.cores-used": f"{self.cores_used:.2f}",
            "driver.busiest-process": f"{self.busiest_process:.2f}",
            "driver.saturated": str(self.saturated).lower(),
            "driver.machine-busy": f"{self.machine_busy:.2f}",
        }


@dataclass
class DriverRun:
    """A finished run: ghz's report, every sample, and the driver's CPU use."""

    options: RunOptions
    report: dict[str, Any]
    samples: Samples
    usage: DriverUsage
    start_wall_ns: int
    total_ns: int


def default_processes(cpus: int) -> int:
    """One driver process per core (ghz's `cpus`, else every core), at most four."""
    return max(1, min(cpus or os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))


def _tls(options: RunOptions) -> TlsMaterial | None:
    if options.insecure:
        return None

    def read(path: str) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return TlsMaterial(read(options.cacert), read(options.key), read(options.cert))


def _channel_options(options: RunOptions) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = [
        ("grpc.use_local_subchannel_pool", 1),
        ("grpc.max_receive_message_length", -1),
        ("grpc.max_send_message_length", -1),
    ]
    if options.keepalive > 0:
        milliseconds = round(options.keepalive * 1000)
        out += [("grpc.keepalive_time_ms", milliseconds), ("grpc.keepalive_timeout_ms", milliseconds)]
    if options.authority:
        out.append(("grpc.default_authority", options.authority))
    if options.cname:
        out.append(("grpc.ssl_target_name_override", options.cname))
    return tuple(out)


def descriptor_set(options: RunOptions, tls: TlsMaterial | None) -> bytes:
    """The method's FileDescriptorSet, from a protoset, the stubs, or server reflection (ghz's default)."""
    service, _ = descriptors.split_call(options.call)
    if options.protoset:
        found = descriptors.from_protoset(Path(options.protoset))
    elif options.use_stubs:
        found = descriptors.from_stubs(service)
    else:
        found = _reflect(options, tls, service)
    serialized: bytes = found.SerializeToString()
    return serialized


def _reflect(options: RunOptions, tls: TlsMaterial | None, service: str) -> descriptor_pb2.FileDescriptorSet:
    channel_options = list(_channel_options(options))
    if tls is None:
        channel = grpc.insecure_channel(options.host, options=channel_options)
    else:
        credentials = grpc.ssl_channel_credentials(
            tls.root_certificates, tls.private_key, tls.certificate_chain
        )
        channel = grpc.secure_channel(options.host, credentials, options=channel_options)
    with channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=options.connect_timeout)
        except grpc.FutureTimeoutError:
            raise DriverError(
                f"cannot connect to {options.host} within {options.connect_timeout:g}s"
            ) from None
        return descriptors.from_reflection(
            channel, service, options.reflect_metadata, options.connect_timeout
        )


def run(
    options: RunOptions,
    environment: Mapping[str, str],
    *,
    details: bool = True,
    rate: RatePlan | None = None,
) -> DriverRun:
    """Runs the options to the end and returns ghz's report with the samples behind it.

    `rate` replaces the options' own schedule with another open-loop plan (a spike's phases).
    """
    options = resolve_files(options).validate()
    tls = _tls(options)
    serialized = descriptor_set(options, tls)
    method = descriptors.resolve(serialized, options.call)
    CallFactory(method, options.data, options.metadata, environment).prepare("g0c0", 0)
    shares = plan_processes(options, options.processes or default_processes(options.cpus))
    rate = rate or RatePlan.from_options(options)
    plans = [
        WorkerPlan(
            share=share,
            processes=len(shares),
            host=options.host,
            descriptor_set=serialized,
            call=options.call,
            data=options.data,
            metadata=options.metadata,
            environment=dict(environment),
            tls=tls,
            channel_options=_channel_options(options),
            compression=options.enable_compression,
            rate=rate,
            limit=options.request_limit if rate is not None else None,
            duration=options.run_seconds,
            timeout=options.timeout,
            connect_timeout=options.connect_timeout,
            duration_stop=options.duration_stop,
            stream_call_count=options.stream_call_count,
            stream_call_duration=options.stream_call_duration,
            name=options.name,
        )
        for share in shares
    ]
    outputs, start_ns, start_wall_ns, usage = _run_processes(plans)
    samples = Samples()
    for output in outputs:
        samples.extend(output.samples)
    total_ns = max(output.finished_ns for output in outputs) - start_ns
    tags = {**(options.tags or {}), **usage.tags()}
    report = build_report(
        samples,
        options,
        total_ns=total_ns,
        start_wall_ns=start_wall_ns,
        end_reason="timeout" if any(output.timed_out for output in outputs) else "normal",
        connections=sum(share.connections for share in shares),
        cpus=options.cpus or os.cpu_count() or 1,
        tags=tags,
        details=details,
    )
    return DriverRun(options, report, samples, usage, start_wall_ns, total_ns)


def _run_processes(plans: list[WorkerPlan]) -> tuple[list[WorkerOutput], int, int, DriverUsage]:
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    children = []
    finished = False
    try:
        for plan in plans:
            parent_end, child_end = context.Pipe()
            child = context.Process(target=process_main, args=(plan, child_end), daemon=True)
            child.start()
            child_end.close()
            pipes.append(parent_end)
            children.append(child)
        for pipe in pipes:
            _expect(pipe, "ready", _SPAWN_SECONDS + plans[0].connect_timeout)
        machine_before = procstat.machine_jiffies()
        parent_before = resource.getrusage(resource.RUSAGE_SELF)
        start_ns = time.monotonic_ns() + _START_DELAY_NS
        start_wall_ns = time.time_ns() + _START_DELAY_NS
        for pipe in pipes:
            pipe.send(start_ns)
        outputs: list[WorkerOutput] = [_expect(pipe, "done", None) for pipe in pipes]
        parent_after = resource.getrusage(resource.RUSAGE_SELF)
        machine_after = procstat.machine_jiffies()
        finished = True
    finally:
        for child in children:
            child.join(timeout=10 if finished else 0)
            if child.is_alive():
                child.kill()
                child.join()
    parent_cpu = (parent_after.ru_utime - parent_before.ru_utime) + (
        parent_after.ru_stime - parent_before.ru_stime
    )
    wall = (max(output.finished_ns for output in outputs) - start_ns) / 1e9
    busy_total = machine_after[1] - machine_before[1]
    usage = DriverUsage(
        processes=len(plans),
        cpu_seconds=parent_cpu + sum(output.cpu_seconds for output in outputs),
        wall_seconds=wall,
        busiest_process=max(o.cpu_seconds / o.busy_seconds if o.busy_seconds > 0 else 0.0 for o in outputs),
        machine_busy=(machine_after[0] - machine_before[0]) / busy_total if busy_total > 0 else 0.0,
    )
    return outputs, start_ns, start_wall_ns, usage


def _expect(pipe: Connection, kind: str, timeout: float | None) -> Any:
    if timeout is not None and not pipe.poll(timeout):
        raise DriverError(f"a driver process did not report {kind} within {timeout:.0f}s")
    try:
        received, payload = pipe.recv()
    except EOFError:
        raise DriverError("a driver process exited without a result") from None
    if received == "error":
        raise DriverError(payload)
    if received != kind:
        raise DriverError(f"a driver process sent {received} instead of {kind}")
    return payload
