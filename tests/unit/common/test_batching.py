"""The batcher: callers arriving together share one flush, and each gets its own outcome."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from common.batching import Batcher, Pending


async def test_callers_arriving_together_share_a_flush() -> None:
    flushed: list[list[int]] = []

    async def flush(batch: list[Pending[int, int]]) -> None:
        flushed.append([pending.item for pending in batch])
        for pending in batch:
            pending.resolve(pending.item * 10)

    batcher: Batcher[int, int] = Batcher(flush)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(20)))
    await batcher.close()

    assert results == [n * 10 for n in range(20)]
    assert sorted(item for batch in flushed for item in batch) == list(range(20))
    assert len(flushed) < 20


async def test_each_item_gets_its_own_error_and_a_failed_flush_fails_only_its_batch() -> None:
    async def flush(batch: list[Pending[int, int]]) -> None:
        if any(pending.item == 99 for pending in batch):
            raise ConnectionError("store gone")
        for pending in batch:
            if pending.item % 2:
                pending.fail(ValueError(f"odd {pending.item}"))
            else:
                pending.resolve(pending.item)

    batcher: Batcher[int, int] = Batcher(flush, max_batch=1)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in (2, 3, 99)), return_exceptions=True)
    await batcher.close()

    assert outcomes[0] == 2
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], ConnectionError)


async def test_an_item_the_flush_forgot_fails_instead_of_hanging() -> None:
    async def flush(batch: list[Pending[int, int]]) -> None:
        return None

    batcher: Batcher[int, int] = Batcher(flush)
    with pytest.raises(RuntimeError, match="left an item unresolved"):
        await asyncio.wait_for(batcher.submit(1), timeout=5)
    await batcher.close()


async def test_an_item_whose_caller_left_is_not_flushed() -> None:
    release = asyncio.Event()
    flushed: list[int] = []

    async def flush(batch: list[Pending[int, int]]) -> None:
        flushed.extend(pending.item for pending in batch)
        await release.wait()
        for pending in batch:
            pending.resolve(pending.item)

    batcher: Batcher[int, int] = Batcher(flush)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.05)  # the flusher now waits inside the first flush
    left = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    left.cancel()
    release.set()
    assert await first == 1
    await batcher.close()

    assert flushed == [1]


async def test_flushes_run_with_instrumentation_suppressed() -> None:
    seen: list[bool] = []

    async def flush(batch: list[Pending[int, int]]) -> None:
        seen.append(is_instrumentation_enabled())
        for pending in batch:
            pending.resolve(pending.item)

    batcher: Batcher[int, int] = Batcher(flush)
    assert await batcher.submit(1) == 1
    await batcher.close()

    assert seen == [False]
    assert is_instrumentation_enabled()  # the caller's own context is untouched


def _recording(flushed: list[list[int]]) -> Callable[[list[Pending[int, int]]], Awaitable[None]]:
    async def flush(batch: list[Pending[int, int]]) -> None:
        flushed.append([pending.item for pending in batch])
        for pending in batch:
            pending.resolve(pending.item)

    return flush


async def test_a_lone_caller_never_waits_for_the_linger() -> None:
    flushed: list[list[int]] = []
    batcher: Batcher[int, int] = Batcher(_recording(flushed), linger=60.0)
    assert await asyncio.wait_for(batcher.submit(1), timeout=5) == 1
    assert await asyncio.wait_for(batcher.submit(2), timeout=5) == 2
    await batcher.close()

    assert flushed == [[1], [2]]


async def test_under_load_callers_arriving_during_the_linger_share_a_flush() -> None:
    flushed: list[list[int]] = []
    batcher: Batcher[int, int] = Batcher(_recording(flushed), linger=0.5)
    await asyncio.gather(batcher.submit(1), batcher.submit(2))  # a shared flush: under load

    async def later(item: int) -> int:
        await asyncio.sleep(0.05)
        return await batcher.submit(item)

    assert await asyncio.gather(batcher.submit(3), later(4)) == [3, 4]
    await batcher.close()

    assert flushed == [[1, 2], [3, 4]]
