"""Resumes sagas left mid-way, on start and periodically, in every replica at once.

A saga is resumed once its lease has run out: its process crashed, or a step was parked to be
retried later. Claiming takes the lease with `FOR UPDATE SKIP LOCKED`, so each saga has one driver.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

from booking_service.domain import Saga
from booking_service.saga import SagaPostponed, SagaRunner
from booking_service.store import BookingStore, LeaseLost

log = structlog.get_logger()


class Recovery:
    """Claims due sagas and drives each to its end or its next postponement."""

    def __init__(
        self, store: BookingStore, runner: SagaRunner, batch: int = 50, concurrency: int = 8
    ) -> None:
        self.store = store
        self.runner = runner
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Resumes every saga due now; returns how many were claimed."""
        claimed = 0
        while True:
            lease_owner = uuid.uuid4().hex
            sagas = await self.store.claim_due(lease_owner, self.runner.settings.lease, self.batch)
            claimed += len(sagas)
            await asyncio.gather(*(self._resume(saga, lease_owner) for saga in sagas))
            if len(sagas) < self.batch:
                return claimed

    async def _resume(self, saga: Saga, lease_owner: str) -> None:
        async with self._slots:
            log.info("saga_resumed", saga_id=saga.saga_id, step=saga.step.value, failures=saga.failures)
            try:
                await self.runner.run(saga, lease_owner, resumed=True)
            except (SagaPostponed, LeaseLost):
                pass
            except Exception:
                log.exception("saga_resume_failed", saga_id=saga.saga_id)
