"""One driver process: its connections, its workers, its share of the schedule, its samples.

The parent starts each process with a WorkerPlan, waits for every process to report `ready` (its
connections are up), then sends the common start time (CLOCK_MONOTONIC, shared by all processes).
Open loop: request k is due at a fixed time; it waits for a free worker if all are busy, and its
latency runs from the due time (from the actual send when that was within `SCHEDULE_SLACK_NS` of
the due time, so event-loop timer granularity is not counted as server latency). Closed loop: each
worker sends its next request when the previous one ends.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import grpc
import uvloop
from google.rpc import error_details_pb2, status_pb2

from benchmarks.calldata import CallFactory, Metadata
from benchmarks.descriptors import ResolvedMethod, resolve
from benchmarks.report import Samples, code_number, error_text
from benchmarks.schedule import ProcessShare, RatePlan, send_times

SCHEDULE_SLACK_NS = 2_000_000
_CLOSING = (grpc.StatusCode.UNAVAILABLE, "transport is closing")


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes for a TLS channel; all None means the system roots and no client certificate."""

    root_certificates: bytes | None
    private_key: bytes | None
    certificate_chain: bytes | None


@dataclass(frozen=True)
class WorkerPlan:
    """Everything one driver process needs, picklable."""

    share: ProcessShare
    processes: int
    host: str
    descriptor_set: bytes
    call: str
    data: Any
    metadata: Mapping[str, str] | None
    environment: Mapping[str, str]
    tls: TlsMaterial | None
    channel_options: tuple[tuple[str, Any], ...]
    compression: bool
    rate: RatePlan | None
    limit: int | None
    duration: float
    timeout: float
    connect_timeout: float
    duration_stop: str
    stream_call_count: int
    stream_call_duration: float
    name: str


@dataclass
class WorkerOutput:
    """What a process sends back: its samples, its CPU time and when it finished."""

    samples: Samples
    cpu_seconds: float
    busy_seconds: float
    finished_ns: int
    timed_out: bool


def process_main(plan: WorkerPlan, conn: Connection) -> None:
    """Entry point of a driver process."""
    try:
        output = uvloop.run(_run(plan, conn))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the run
        conn.send(("error", f"driver process {plan.share.index}: {type(error).__name__}: {error}"))
    else:
        conn.send(("done", output))
    finally:
        conn.close()


def _channel(plan: WorkerPlan) -> grpc.aio.Channel:
    compression = grpc.Compression.Gzip if plan.compression else None
    if plan.tls is None:
        return grpc.aio.insecure_channel(plan.host, options=plan.channel_options, compression=compression)
    credentials = grpc.ssl_channel_credentials(
        plan.tls.root_certificates, plan.tls.private_key, plan.tls.certificate_chain
    )
    return grpc.aio.secure_channel(
        plan.host, credentials, options=plan.channel_options, compression=compression
    )


def _reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason in a rich error status, '' when there is none."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return str(info.reason)
    return ""


class _Recorder:
    """Samples of this process, and the ids of distinct errors."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.samples = Samples()
        self._error_ids: dict[tuple[str, str], int] = {}

    def record(
        self, number: int, due_ns: int, origin_ns: int, end_ns: int, code: int, error: tuple[str, str] | None
    ) -> None:
        samples = self.samples
        samples.request_numbers.append(number)
        samples.due_ns.append(due_ns - self.start_ns)
        samples.latency_ns.append(end_ns - origin_ns)
        samples.end_ns.append(end_ns - self.start_ns)
        samples.codes.append(code)
        if error is None:
            samples.error_ids.append(-1)
            return
        error_id = self._error_ids.get(error)
        if error_id is None:
            error_id = self._error_ids[error] = len(samples.errors)
            samples.errors.append(error)
        samples.error_ids.append(error_id)


class _Process:
    """The calls of one driver process."""

    def __init__(self, plan: WorkerPlan, method: ResolvedMethod, factory: CallFactory) -> None:
        self.plan = plan
        self.method = method
        self.factory = factory
        self.channels = [_channel(plan) for _ in range(plan.share.connections)]
        self.inflight: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.timed_out = False
        self.recorder = _Recorder(0)

    def callable_for(self, connection: int) -> Callable[..., Any]:
        channel = self.channels[connection]
        path, deserialize = self.method.info.path, self.method.response_class.FromString
        invoke: Callable[..., Any]
        if self.method.info.server_streaming:
            invoke = channel.unary_stream(path, response_deserializer=deserialize)
        else:
            invoke = channel.unary_unary(path, response_deserializer=deserialize)
        return invoke

    def worker_id(self, worker: int, connection: int) -> str:
        wid = f"g{worker}c{connection}"
        return f"{self.plan.name}:{wid}" if self.plan.name else wid

    async def call(
        self, invoke: Callable[..., Any], request: bytes, metadata: Metadata, number: int, due_ns: int
    ) -> None:
        sent_ns = time.monotonic_ns()
        origin_ns = due_ns if sent_ns - due_ns > SCHEDULE_SLACK_NS else sent_ns
        code, error = 0, None
        try:
            if self.method.info.server_streaming:
                await self._consume(invoke(request, metadata=metadata, timeout=self.plan.timeout or None))
            else:
                await invoke(request, metadata=metadata, timeout=self.plan.timeout or None)
        except grpc.aio.AioRpcError as failure:
            code, error = (
                code_number(failure.code()),
                (error_text(failure.code(), failure.details()), _reason(failure)),
            )
        except asyncio.CancelledError:
            if self.plan.duration_stop == "ignore":
                return
            code, error = code_number(_CLOSING[0]), (error_text(*_CLOSING), "")
        self.recorder.record(number, due_ns, origin_ns, time.monotonic_ns(), code, error)

    async def _consume(self, stream: Any) -> None:
        received = 0
        try:
            async with asyncio.timeout(self.plan.stream_call_duration or None):
                async for _ in stream:
                    received += 1
                    if self.plan.stream_call_count and received >= self.plan.stream_call_count:
                        break
        except TimeoutError:
            pass
        finally:
            stream.cancel()

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        return task

    def stop_at_deadline(self) -> None:
        self.stopping = True
        self.timed_out = True
        if self.plan.duration_stop != "wait":
            for task in list(self.inflight):
                task.cancel()

    async def open_loop(self, start_ns: int) -> None:
        plan, share = self.plan, self.plan.share
        assert plan.rate is not None
        free = asyncio.Semaphore(share.concurrency)
        invokers = [self.callable_for(c) for c in range(share.connections)]
        for number, due in enumerate(send_times(plan.rate, plan.limit, plan.duration)):
            if number % plan.processes != share.index:
                continue
            local = number // plan.processes
            worker, connection = local % share.concurrency, local % share.connections
            request, metadata = self.factory.prepare(
                self.worker_id(share.first_worker + worker, share.first_connection + connection), number
            )
            due_ns = start_ns + round(due * 1e9)
            delay = due_ns - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            if self.stopping:
                break
            await free.acquire()
            task = self.spawn(self.call(invokers[connection], request, metadata, number, due_ns))
            task.add_done_callback(lambda _: free.release())
        await asyncio.gather(*list(self.inflight), return_exceptions=True)

    async def closed_loop(self) -> None:
        plan, share = self.plan, self.plan.share
        budget = [share.requests]
        sequence = iter(range(share.index, 2**62, plan.processes))

        async def worker(slot: int) -> None:
            connection = slot % share.connections
            invoke = self.callable_for(connection)
            wid = self.worker_id(share.first_worker + slot, share.first_connection + connection)
            while not self.stopping:
                if budget[0] is not None:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                number = next(sequence)
                request, metadata = self.factory.prepare(wid, number)
                try:
                    await self.spawn(self.call(invoke, request, metadata, number, time.monotonic_ns()))
                except asyncio.CancelledError:
                    if not self.stopping:
                        raise
                    return

        await asyncio.gather(*(worker(slot) for slot in range(share.concurrency)))


async def _run(plan: WorkerPlan, conn: Connection) -> WorkerOutput:
    method = resolve(plan.descriptor_set, plan.call)
    process = _Process(plan, method, CallFactory(method, plan.data, plan.metadata, plan.environment))
    loop = asyncio.get_running_loop()
    try:
        ready = asyncio.gather(*(channel.channel_ready() for channel in process.channels))
        await asyncio.wait_for(ready, plan.connect_timeout)
        conn.send(("ready", None))
        start_ns: int = await loop.run_in_executor(None, conn.recv)
        process.recorder = _Recorder(start_ns)
        if start_ns > time.monotonic_ns():
            await asyncio.sleep((start_ns - time.monotonic_ns()) / 1e9)
        before = resource.getrusage(resource.RUSAGE_SELF)
        began_ns = time.monotonic_ns()
        if plan.duration > 0:
            loop.call_later(
                (start_ns + plan.duration * 1e9 - time.monotonic_ns()) / 1e9, process.stop_at_deadline
            )
        if plan.rate is not None:
            await process.open_loop(start_ns)
        else:
            await process.closed_loop()
        finished_ns = time.monotonic_ns()
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await asyncio.gather(*(channel.close() for channel in process.channels))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WorkerOutput(
        samples=process.recorder.samples,
        cpu_seconds=cpu,
        busy_seconds=(finished_ns - began_ns) / 1e9,
        finished_ns=finished_ns,
        timed_out=process.timed_out,
    )
