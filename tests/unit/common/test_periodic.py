"""Background loops stop when asked, even when their work swallows the cancellation."""

import asyncio
from datetime import timedelta

from common.periodic import Periodic


async def test_stop_ends_a_loop_whose_work_swallowed_the_cancellation() -> None:
    started = asyncio.Event()
    runs = 0

    async def swallowing() -> None:
        nonlocal runs
        runs += 1
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # as asyncio.wait_for can on Python 3.11 when its future completes at that moment

    loop = Periodic("swallowing", swallowing, timedelta(milliseconds=10))
    loop.start()
    await started.wait()
    stopping = asyncio.ensure_future(loop.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)

    assert stopping in done
    assert runs == 1


async def test_work_runs_every_interval_until_stopped() -> None:
    runs = 0
    third = asyncio.Event()

    async def count() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()

    loop = Periodic("counting", count, timedelta(milliseconds=10))
    loop.start()
    await asyncio.wait_for(third.wait(), timeout=5)
    await loop.stop()
    stopped_at = runs
    await asyncio.sleep(0.05)

    assert runs == stopped_at
