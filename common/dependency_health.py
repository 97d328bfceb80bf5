"""Turns each gRPC service's health NOT_SERVING while a dependency it needs is unreachable.

The overall status ("") is left alone: it describes the process, which Kubernetes probes read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

import structlog
from grpc_health.v1 import health, health_pb2

from common.periodic import Periodic

log = structlog.get_logger()

Check = Callable[[], Awaitable[object]]


class DependencyMonitor:
    """Probes named dependencies periodically and sets the health of the services that need them."""

    def __init__(
        self,
        health_servicer: health.aio.HealthServicer,
        checks: Mapping[str, Check],
        needed_by: Mapping[str, Sequence[str]],
        interval: float = 2.0,
        timeout: float = 1.0,
    ) -> None:
        self._health = health_servicer
        self._checks = dict(checks)
        self._needed_by = dict(needed_by)
        self._timeout = timeout
        self.down: frozenset[str] = frozenset()
        self._loop = Periodic("dependency_probe", self.probe, timedelta(seconds=interval))

    def is_up(self, dependency: str) -> bool:
        """Whether the last probe reached the dependency."""
        return dependency not in self.down

    async def probe(self) -> frozenset[str]:
        """Probes every dependency once and updates the services' health; returns those down."""
        results = await asyncio.gather(*(self._probe_one(check) for check in self._checks.values()))
        down = frozenset(name for name, ok in zip(self._checks, results, strict=True) if not ok)
        if down != self.down:
            log.warning("dependencies_changed", down=sorted(down), up=sorted(set(self._checks) - down))
        self.down = down
        for service, needs in self._needed_by.items():
            serving = not (set(needs) & down)
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await self._health.set(service, status)
        return down

    async def _probe_one(self, check: Check) -> bool:
        try:
            await asyncio.wait_for(check(), self._timeout)
        except Exception:  # noqa: BLE001 - any failure means unreachable
            return False
        return True

    def start(self) -> None:
        """Probes in the background until `stop`."""
        self._loop.start()

    async def stop(self) -> None:
        """Stops probing."""
        await self._loop.stop()
