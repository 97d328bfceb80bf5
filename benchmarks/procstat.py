"""CPU time and memory of the processes in a run, read from /proc, and a sampler for a run's length.

A group is a named set of processes found again at every sample (a service and its worker
children, the PostgreSQL server and its backends, redis-server). A process already running when
the sampler starts counts from its CPU time then; one that appears later counts from zero; one that
exits between samples loses at most one interval of CPU time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PidSource = Callable[[], Iterable[int]]


@cache
def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


@cache
def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process (all its threads), or None when it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / _clock_ticks()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process in bytes (0 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _page_size()
    except (OSError, IndexError, ValueError):
        return 0


def parent_of(pid: int) -> int | None:
    """The parent pid of a process, or None when it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def process_tree(root: int) -> set[int]:
    """`root` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid not in found and Path(f"/proc/{pid}").exists():
            found.add(pid)
            pending.extend(children.get(pid, ()))
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot, over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Usage:
    """What a sampler saw between start and stop."""

    wall_seconds: float
    cpu_seconds: dict[str, float]
    machine_busy: float
    cores: int
    timeline: list[tuple[float, dict[str, float], dict[str, int]]] = field(default_factory=list)

    def cores_used(self, group: str) -> float:
        """Average cores a group kept busy."""
        return self.cpu_seconds.get(group, 0.0) / self.wall_seconds if self.wall_seconds > 0 else 0.0


class CpuSampler:
    """Samples named process groups every `interval` seconds on a background thread."""

    def __init__(self, groups: Mapping[str, PidSource], interval: float = 0.5) -> None:
        self._groups = dict(groups)
        self._interval = interval
        self._baseline: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._timeline: list[tuple[float, dict[str, float], dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)
        self._started = 0.0
        self._machine_start = (0, 0)

    def start(self) -> None:
        """Takes the baseline and starts sampling."""
        self._started = time.monotonic()
        self._machine_start = machine_jiffies()
        for name, source in self._groups.items():
            for pid in source():
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    self._baseline[pid] = seconds
                    self._last[pid] = (name, seconds)
        self._thread.start()

    def stop(self) -> Usage:
        """Stops sampling, takes a last sample and returns the totals."""
        self._stop.set()
        self._thread.join()
        self._sample()
        busy0, total0 = self._machine_start
        busy1, total1 = machine_jiffies()
        totals: dict[str, float] = dict.fromkeys(self._groups, 0.0)
        for pid, (name, seconds) in self._last.items():
            totals[name] += seconds - self._baseline.get(pid, 0.0)
        return Usage(
            wall_seconds=time.monotonic() - self._started,
            cpu_seconds=totals,
            machine_busy=(busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0,
            cores=os.cpu_count() or 1,
            timeline=self._timeline,
        )

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        cumulative: dict[str, float] = dict.fromkeys(self._groups, 0.0)
        resident: dict[str, int] = dict.fromkeys(self._groups, 0)
        for name, source in self._groups.items():
            for pid in source():
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    self._last[pid] = (name, seconds)
                    resident[name] += rss_bytes(pid)
        for pid, (name, seconds) in self._last.items():
            cumulative[name] += seconds - self._baseline.get(pid, 0.0)
        self._timeline.append((time.monotonic() - self._started, cumulative, resident))
