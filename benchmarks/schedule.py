"""Open-loop scheduling and the split of a run over driver processes.

With a rate (ghz's `--rps`, or a `step`/`line` load schedule), every send time is fixed before the
run: request k is due at `send_times(...)[k]` seconds after the start, whatever the server does, and
its latency is measured from that time. Request k goes to driver process `k % processes`.
Without a rate the run is closed-loop: each of the `concurrency` workers sends its next request
when the previous one ends.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from benchmarks.options import RunOptions


@dataclass(frozen=True)
class RatePlan:
    """Requests per second as a function of the time since the start of the run.

    `const`: `rps` throughout. `step` (ghz's step and line schedules): `start`, changed by `step` every
    `step_duration` seconds until it reaches `end` (when set) or `max_duration` has passed (when
    set), then held. `phases`: `(seconds, rps)` pairs run in order; the run ends after the last.
    """

    kind: str
    rps: float = 0.0
    start: float = 0.0
    step: float = 0.0
    end: float = 0.0
    step_duration: float = 1.0
    max_duration: float = 0.0
    phases: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_options(cls, options: RunOptions) -> RatePlan | None:
        """The plan for an open-loop run, or None for a closed-loop one."""
        if options.load_schedule == "step":
            return cls(
                "step",
                start=options.load_start,
                step=options.load_step,
                end=options.load_end,
                step_duration=options.load_step_duration,
                max_duration=options.load_max_duration,
            )
        if options.load_schedule == "line":
            return cls(
                "step",
                start=options.load_start,
                step=options.load_step,
                end=options.load_end,
                step_duration=1.0,
                max_duration=options.load_max_duration,
            )
        if options.rps > 0:
            return cls("const", rps=options.rps)
        return None

    @classmethod
    def phased(cls, phases: Sequence[tuple[float, float]]) -> RatePlan:
        """A plan of consecutive constant-rate phases, e.g. steady, spike, steady."""
        return cls("phases", phases=tuple((float(s), float(r)) for s, r in phases))

    @property
    def length(self) -> float:
        """Seconds until a phased plan ends; infinite for the others."""
        return sum(s for s, _ in self.phases) if self.kind == "phases" else math.inf

    def rate_at(self, elapsed: float) -> float:
        """Requests per second `elapsed` seconds after the start."""
        if self.kind == "const":
            return self.rps
        if self.kind == "phases":
            boundary = 0.0
            for seconds, rate in self.phases:
                boundary += seconds
                if elapsed < boundary:
                    return rate
            return 0.0
        held = elapsed if self.max_duration <= 0 else min(elapsed, self.max_duration)
        rate = self.start + self.step * math.floor(held / self.step_duration + 1e-9)
        if self.end > 0 and ((self.step > 0 and rate > self.end) or (self.step < 0 and rate < self.end)):
            rate = self.end
        return max(rate, 0.0)

    def stretches(self) -> Iterator[tuple[float, float, float]]:
        """(start, end, rate) of each constant-rate stretch, in order; the last may never end."""
        if self.kind == "const":
            yield 0.0, math.inf, self.rps
        elif self.kind == "phases":
            start = 0.0
            for seconds, rate in self.phases:
                yield start, start + seconds, rate
                start += seconds
        else:
            for index in itertools.count():
                start = index * self.step_duration
                yield start, start + self.step_duration, self.rate_at(start)


def send_times(plan: RatePlan, limit: int | None, duration: float) -> Iterator[float]:
    """Seconds after the start at which requests 0, 1, 2 ... are due.

    Each constant-rate stretch starts sending at its own start, one request every 1/rate seconds.
    Ends after `limit` requests (None: no limit), at `duration` seconds (0: no limit) or at the end
    of a phased plan.
    """
    end = min(duration if duration > 0 else math.inf, plan.length)
    if limit is None and math.isinf(end):
        raise ValueError("an open-loop run needs a total, a duration or a phased plan")
    sent = 0
    for start, stop, rate in plan.stretches():
        if start >= end:
            return
        if rate <= 0:
            if plan.kind == "step" and plan.step <= 0:
                return
            continue
        for index in itertools.count():
            due = start + index / rate
            if due >= min(stop, end):
                break
            if limit is not None and sent >= limit:
                return
            yield due
            sent += 1


def split(amount: int, parts: int) -> list[int]:
    """`amount` split into `parts` near-equal integers, the larger ones first."""
    base, extra = divmod(amount, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def split_weighted(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` (largest remainders first); sums to `amount`."""
    total = sum(weights)
    exact = [amount * weight / total for weight in weights]
    shares = [math.floor(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in order[: amount - sum(shares)]:
        shares[index] += 1
    return shares


@dataclass(frozen=True)
class ProcessShare:
    """What one driver process does: its workers, connections and (closed-loop) request budget."""

    index: int
    concurrency: int
    connections: int
    first_worker: int
    first_connection: int
    requests: int | None


def plan_processes(options: RunOptions, processes: int) -> list[ProcessShare]:
    """The run split over `processes`: each gets at least one worker and one connection."""
    count = max(1, min(processes, options.concurrency))
    concurrency = split(options.concurrency, count)
    connections = [
        min(c, n) for c, n in zip(concurrency, split(max(options.connections, count), count), strict=True)
    ]
    limit = options.request_limit
    requests: list[int | None] = [None] * count
    if limit is not None and not options.open_loop:
        requests = list(split_weighted(limit, concurrency))
    shares = []
    for index in range(count):
        shares.append(
            ProcessShare(
                index=index,
                concurrency=concurrency[index],
                connections=connections[index],
                first_worker=sum(concurrency[:index]),
                first_connection=sum(connections[:index]),
                requests=requests[index],
            )
        )
    return shares
