"""The durable confirm saga (and the cancel saga's steps): authorize, commit the hold, capture.

Each step's row is written before the step is taken, and every downstream call carries a key
derived from the saga, so a step repeated after a crash or a retry has no second effect.
Compensations run in reverse: a decline leaves the booking PAYMENT_FAILED and still held; a hold
that cannot be committed voids the authorization; a capture that keeps failing after the commit
refunds or voids the payment and returns the seats. An authorization whose outcome is unknown
(payment unreachable) is resolved later and voided if it was made.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

import structlog
from farebox.payment.v1 import payment_pb2

from booking_service.clients import PaymentClient, SeatClient
from booking_service.domain import (
    Booking,
    BookingStatus,
    Saga,
    SagaKind,
    SagaOutcome,
    SagaStep,
    payment_request_id_for,
    saga_id_for,
    step_request_id,
)
from booking_service.metrics import compensation, step_name, timed_step
from booking_service.settings import SagaSettings
from booking_service.store import BookingStore, SagaChange
from booking_service.tickets import TicketSigner
from common.errors import (
    Aborted,
    DeadlineExceeded,
    FailedPrecondition,
    FareboxError,
    NotFound,
    Unavailable,
)

log = structlog.get_logger()

PaymentStatus = payment_pb2.PaymentStatus
_IN_PROGRESS = timedelta(milliseconds=300)


class SagaPostponed(Exception):
    """A step failed for now; the saga is parked and recovery retries it after a delay."""

    def __init__(self, cause: FareboxError, retry_after: timedelta) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.retry_after = retry_after


def breaker_open(error: FareboxError) -> bool:
    """Whether the call was refused by an open breaker without reaching the downstream."""
    return error.metadata.get("breaker") == "open"


def is_transient(error: FareboxError) -> bool:
    """Whether a downstream failure may succeed later (the outcome of the call is unknown)."""
    return isinstance(error, Unavailable | DeadlineExceeded | Aborted)


def retry_delay(failures: int, base: timedelta, maximum: timedelta) -> timedelta:
    """Exponential backoff from `base`, at most `maximum`, for a step that failed `failures` times.

    The exponent stops growing once `maximum` is reached, so a step failing for days never
    overflows a timedelta.
    """
    delay = base
    for _ in range(failures):
        if delay >= maximum or not delay:
            break
        delay *= 2
    return min(delay, maximum)


class SagaRunner:
    """Starts confirm sagas and drives any saga step by step while it holds the saga's lease."""

    def __init__(
        self,
        store: BookingStore,
        seat: SeatClient,
        payment: PaymentClient,
        signer: TicketSigner,
        settings: SagaSettings,
    ) -> None:
        self.store = store
        self.seat = seat
        self.payment = payment
        self.signer = signer
        self.settings = settings
        self._tasks: set[asyncio.Task[Booking]] = set()

    async def confirm(self, owner_id: str, booking_id: str, token: str, request_id: str) -> Booking:
        """Pays for a booking and issues its tickets; returns the booking after the attempt."""
        lease_owner = uuid.uuid4().hex
        booking, saga = await self._begin(owner_id, booking_id, token, request_id, lease_owner)
        if saga is None:
            return await self._booking_by_id(booking.booking_id)
        try:
            return await self.run_detached(saga, lease_owner, booking)
        except SagaPostponed as postponed:
            raise Unavailable(
                f"the confirmation could not finish now: {postponed.cause.message}",
                reason=postponed.cause.reason,
                metadata=postponed.cause.metadata,
                retry_after=postponed.retry_after,
            ) from None

    async def _begin(
        self, owner_id: str, booking_id: str, token: str, request_id: str, lease_owner: str
    ) -> tuple[Booking, Saga | None]:
        async with self.store.transaction() as conn:
            booking = await self.store.lock_for_saga(conn, booking_id, owner_id)
            if booking is None:
                raise NotFound(f"booking {booking_id} not found", reason="BOOKING_NOT_FOUND")
            if booking.status is BookingStatus.CONFIRMED:
                return booking, None
            if booking.status is BookingStatus.CONFIRMING:
                raise Aborted(
                    "the booking is being confirmed",
                    reason="CONFIRMATION_IN_PROGRESS",
                    retry_after=_IN_PROGRESS,
                )
            if booking.status is BookingStatus.CANCELLED:
                raise FailedPrecondition("the booking was cancelled", reason="BOOKING_CANCELLED")
            if booking.status is BookingStatus.EXPIRED or booking.hold_expire_time <= datetime.now(UTC):
                raise FailedPrecondition("the booking's hold has expired", reason="HOLD_EXPIRED")
            sagas = await self.store.sagas_of(conn, booking_id)
            if any(s.request_id == request_id and s.outcome is SagaOutcome.DECLINED for s in sagas):
                return booking, None  # this request was answered: its card was declined
            attempt = sagas[0].attempt + 1 if sagas else 1
            saga = Saga(
                saga_id=saga_id_for(booking_id, attempt),
                booking_id=booking_id,
                attempt=attempt,
                kind=SagaKind.CONFIRM,
                step=SagaStep.AUTHORIZE,
                request_id=request_id,
                payment_request_id=payment_request_id_for(booking_id, attempt),
                payment_token=token,
                payment_id="",
                release_seats=False,
                target_status=None,
                outcome=SagaOutcome.NONE,
                failure_reason="",
                failures=0,
            )
            saga = await self.store.insert_saga(conn, saga, lease_owner, self.settings.lease)
            await self.store.set_status(conn, booking_id, BookingStatus.CONFIRMING)
        log.info("saga_started", saga_id=saga.saga_id, booking_id=booking_id, attempt=attempt)
        return booking, saga

    async def run_detached(self, saga: Saga, lease_owner: str, booking: Booking | None = None) -> Booking:
        """Drives a saga in its own task, so a caller that goes away does not stop it half-way."""
        task = asyncio.create_task(self.run(saga, lease_owner, booking=booking))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def drain(self) -> None:
        """Waits for sagas still running in this process."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run(
        self, saga: Saga, lease_owner: str, *, resumed: bool = False, booking: Booking | None = None
    ) -> Booking:
        """Takes the saga's steps until it is done; SagaPostponed when a step must wait.

        `booking` is the saga's booking as read before (its seats, hold and price never change).
        """
        booking = booking or await self._booking_by_id(saga.booking_id)
        steps = {
            SagaStep.AUTHORIZE: self._recover_authorization if resumed else self._authorize,
            SagaStep.RESOLVE: self._resolve,
            SagaStep.COMMIT_HOLD: self._commit_hold,
            SagaStep.CAPTURE: self._capture,
            SagaStep.RETURN_PAYMENT: self._return_payment,
            SagaStep.RELEASE_SEATS: self._release_seats,
        }
        while saga.step is not SagaStep.DONE:
            with timed_step(step_name(saga.step)):
                saga = await steps[saga.step](saga, booking, lease_owner)
        log.info("saga_done", saga_id=saga.saga_id, outcome=saga.outcome.value, reason=saga.failure_reason)
        return await self._booking_by_id(saga.booking_id)

    async def _advance(self, saga: Saga, lease_owner: str, change: SagaChange) -> Saga:
        advanced = await self.store.advance(saga, lease_owner, self.settings.lease, change)
        log.info("saga_step", saga_id=saga.saga_id, step=change.step.value, previous=saga.step.value)
        return advanced

    async def _postpone(self, saga: Saga, lease_owner: str, error: FareboxError) -> Saga:
        """Parks the saga at its step; a call refused by an open breaker was not an attempt."""
        failures = saga.failures if breaker_open(error) else saga.failures + 1
        delay = retry_delay(saga.failures, self.settings.retry_base, self.settings.retry_max)
        if breaker_open(error) and error.retry_after is not None:
            delay = error.retry_after
        delay += delay * random.uniform(0, 0.1)
        await self.store.advance(
            saga,
            lease_owner,
            self.settings.lease,
            SagaChange(step=saga.step, failures=failures, delay=delay),
        )
        log.warning(
            "saga_step_postponed",
            saga_id=saga.saga_id,
            step=saga.step.value,
            reason=error.reason,
            failures=failures,
            delay_seconds=delay.total_seconds(),
        )
        raise SagaPostponed(error, delay)

    async def _authorize(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        try:
            response = await self.payment.authorize(
                booking_reference=saga.booking_id,
                amount_minor=booking.total.amount_minor,
                currency_code=booking.total.currency_code,
                token=saga.payment_token,
                request_id=saga.payment_request_id,
            )
        except FareboxError as error:
            if not is_transient(error):
                return await self._declined(saga, lease_owner, error.reason)
            # The authorization may or may not exist: resolve it later, let the traveller retry now.
            await self.store.advance(
                saga,
                lease_owner,
                self.settings.lease,
                SagaChange(
                    step=SagaStep.RESOLVE,
                    failure_reason=error.reason,
                    booking_status=BookingStatus.PENDING,
                    booking_reason=error.reason,
                    delay=self.settings.in_doubt_grace,
                ),
            )
            log.warning("saga_authorization_in_doubt", saga_id=saga.saga_id, reason=error.reason)
            raise SagaPostponed(error, self.settings.retry_base) from None
        return await self._authorized(saga, lease_owner, response.payment)

    async def _authorized(self, saga: Saga, lease_owner: str, payment: payment_pb2.Payment) -> Saga:
        if payment.status == PaymentStatus.PAYMENT_STATUS_DECLINED:
            return await self._declined(
                saga, lease_owner, payment_pb2.DeclineReason.Name(payment.decline_reason)
            )
        if payment.status != PaymentStatus.PAYMENT_STATUS_AUTHORIZED:
            return await self._advance(
                saga,
                lease_owner,
                SagaChange(
                    step=SagaStep.RETURN_PAYMENT,
                    payment_id=payment.payment_id,
                    target_status=BookingStatus.PENDING,
                    failure_reason="UNEXPECTED_PAYMENT_STATUS",
                ),
            )
        crash_if(self.settings, "after_authorize")
        return await self._advance(
            saga, lease_owner, SagaChange(step=SagaStep.COMMIT_HOLD, payment_id=payment.payment_id)
        )

    async def _declined(self, saga: Saga, lease_owner: str, reason: str) -> Saga:
        reason = reason.removeprefix("DECLINE_REASON_") or "CARD_DECLINED"
        return await self._advance(
            saga,
            lease_owner,
            SagaChange(
                step=SagaStep.DONE,
                outcome=SagaOutcome.DECLINED,
                failure_reason=reason,
                booking_status=BookingStatus.PAYMENT_FAILED,
                booking_reason=reason,
            ),
        )

    async def _recover_authorization(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        """A crash left the authorization in flight: ask Payment what happened under the saga's key."""
        try:
            payment = (await self.payment.get_by_authorization_key(saga.payment_request_id)).payment
        except NotFound:
            return await self._advance(
                saga,
                lease_owner,
                SagaChange(
                    step=SagaStep.DONE,
                    outcome=SagaOutcome.ABANDONED,
                    failure_reason="CONFIRMATION_INTERRUPTED",
                    booking_status=BookingStatus.PENDING,
                    booking_reason="CONFIRMATION_INTERRUPTED",
                ),
            )
        except FareboxError as error:
            return await self._postpone(saga, lease_owner, error)
        return await self._authorized(saga, lease_owner, payment)

    async def _resolve(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        """An authorization of unknown outcome: void it if it was made, else close the attempt."""
        try:
            payment = (await self.payment.get_by_authorization_key(saga.payment_request_id)).payment
        except NotFound:
            payment = None
        except FareboxError as error:
            return await self._postpone(saga, lease_owner, error)
        if payment is None or payment.status in (
            PaymentStatus.PAYMENT_STATUS_DECLINED,
            PaymentStatus.PAYMENT_STATUS_VOIDED,
        ):
            return await self._advance(
                saga, lease_owner, SagaChange(step=SagaStep.DONE, outcome=SagaOutcome.ABANDONED)
            )
        return await self._advance(
            saga, lease_owner, SagaChange(step=SagaStep.RETURN_PAYMENT, payment_id=payment.payment_id)
        )

    async def _commit_hold(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        try:
            await self.seat.commit_hold(
                booking.hold_id, saga.booking_id, step_request_id(saga.saga_id, "commit")
            )
        except FareboxError as error:
            if is_transient(error):
                return await self._postpone(saga, lease_owner, error)
            log.warning("saga_commit_refused", saga_id=saga.saga_id, reason=error.reason)
            return await self._advance(
                saga,
                lease_owner,
                SagaChange(
                    step=SagaStep.RETURN_PAYMENT,
                    target_status=BookingStatus.EXPIRED,
                    failure_reason=error.reason,
                ),
            )
        crash_if(self.settings, "after_commit")
        return await self._advance(saga, lease_owner, SagaChange(step=SagaStep.CAPTURE))

    async def _capture(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        try:
            await self.payment.capture(saga.payment_id, step_request_id(saga.saga_id, "capture"))
        except FareboxError as error:
            retry = breaker_open(error) or saga.failures + 1 < self.settings.max_capture_failures
            if is_transient(error) and retry:
                return await self._postpone(saga, lease_owner, error)
            log.error(
                "saga_capture_failed", saga_id=saga.saga_id, reason=error.reason, failures=saga.failures + 1
            )
            return await self._advance(
                saga,
                lease_owner,
                SagaChange(
                    step=SagaStep.RETURN_PAYMENT,
                    release_seats=True,
                    target_status=BookingStatus.CANCELLED,
                    failure_reason="CAPTURE_FAILED",
                ),
            )
        return await self._advance(
            saga,
            lease_owner,
            SagaChange(
                step=SagaStep.DONE,
                outcome=SagaOutcome.CONFIRMED,
                booking_status=BookingStatus.CONFIRMED,
                tickets=self.signer.issue(booking),
            ),
        )

    async def _return_payment(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        """Voids an uncaptured authorization or refunds a capture; a finished one needs nothing."""
        try:
            payment = (await self.payment.get_by_id(saga.payment_id)).payment
            if payment.status == PaymentStatus.PAYMENT_STATUS_AUTHORIZED:
                with _compensating(saga, "void_payment"):
                    await self.payment.void(saga.payment_id, step_request_id(saga.saga_id, "void"))
            elif payment.status in (
                PaymentStatus.PAYMENT_STATUS_CAPTURED,
                PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED,
            ):
                reason = "booking cancelled" if saga.kind is SagaKind.CANCEL else saga.failure_reason
                with _compensating(saga, "refund_payment"):
                    await self.payment.refund(
                        saga.payment_id, reason, step_request_id(saga.saga_id, "refund")
                    )
        except FareboxError as error:
            if not is_transient(error):
                log.error("saga_payment_return_refused", saga_id=saga.saga_id, reason=error.reason)
            return await self._postpone(saga, lease_owner, error)
        if saga.release_seats:
            return await self._advance(saga, lease_owner, SagaChange(step=SagaStep.RELEASE_SEATS))
        return await self._finish_compensation(saga, lease_owner)

    async def _release_seats(self, saga: Saga, booking: Booking, lease_owner: str) -> Saga:
        try:
            with _compensating(saga, "release_seats"):
                await self.seat.release_seats(saga.booking_id, step_request_id(saga.saga_id, "release-seats"))
        except FareboxError as error:
            if not is_transient(error):
                log.error("saga_seat_release_refused", saga_id=saga.saga_id, reason=error.reason)
            return await self._postpone(saga, lease_owner, error)
        return await self._finish_compensation(saga, lease_owner)

    async def _finish_compensation(self, saga: Saga, lease_owner: str) -> Saga:
        outcome = SagaOutcome.CANCELLED if saga.kind is SagaKind.CANCEL else SagaOutcome.COMPENSATED
        return await self._advance(
            saga,
            lease_owner,
            SagaChange(
                step=SagaStep.DONE,
                outcome=outcome,
                booking_status=saga.target_status,
                booking_reason=saga.failure_reason,
            ),
        )

    async def _booking_by_id(self, booking_id: str) -> Booking:
        booking = await self.store.get(booking_id)
        assert booking is not None, booking_id
        return booking


def _compensating(saga: Saga, step: str) -> AbstractContextManager[None]:
    """Counts a confirm saga's compensating call; a cancellation's refund undoes nothing that failed."""
    return compensation(step) if saga.kind is SagaKind.CONFIRM else nullcontext()


def crash_if(settings: SagaSettings, point: str) -> None:
    """Fault injection: kills this process with SIGKILL at `point` when the settings ask for it."""
    if settings.crash_at == point:
        log.warning("fault_injected_crash", point=point)
        os.kill(os.getpid(), signal.SIGKILL)
