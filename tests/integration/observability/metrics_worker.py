"""A worker process for the multiprocess test: a probe server with the metrics interceptor.

`python -m tests.integration.observability.metrics_worker BREAKER_STATE` records the payment
breaker's state, prints its gRPC port, and serves until its standard input closes.
"""

from __future__ import annotations

import asyncio
import sys

from common.domain_metrics import domain_metrics
from common.interceptors.metrics import ServerMetricsInterceptor
from tests.integration.observability.probe_service import start_probe


async def serve(breaker_state: int) -> None:
    """Serves until standard input reaches end of file."""
    domain_metrics().breaker_state.labels("payment").set(breaker_state)
    server, address = await start_probe([ServerMetricsInterceptor()])
    print(address.rsplit(":", 1)[1], flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
