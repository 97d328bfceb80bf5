"""Reading sample values from a registry, and waiting for them, in observability tests."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY, CollectorRegistry


def sample(name: str, registry: CollectorRegistry = REGISTRY, **labels: str) -> float:
    """The value of one sample, 0.0 when it has not been created yet."""
    return registry.get_sample_value(name, labels) or 0.0


async def wait_for_sample(
    name: str, expected: float, registry: CollectorRegistry = REGISTRY, attempts: int = 200, **labels: str
) -> float:
    """Polls until the sample reaches `expected` (a server records a call after its client returns)."""
    value = sample(name, registry, **labels)
    for _ in range(attempts):
        if value >= expected:
            return value
        await asyncio.sleep(0.01)
        value = sample(name, registry, **labels)
    return value
