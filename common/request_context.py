"""Request-scoped data set once per RPC by the interceptors and read anywhere below them."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from common.errors import DeadlineExceeded


@dataclass(frozen=True)
class Principal:
    """Who is calling: a subject, its roles (farebox.common.v1.Role values) and its tenant."""

    subject: str
    roles: frozenset[int] = field(default_factory=frozenset)
    tenant: str = ""

    @property
    def is_anonymous(self) -> bool:
        """True for a caller without credentials."""
        return self.subject == ""


ANONYMOUS = Principal(subject="")

principal_var: ContextVar[Principal] = ContextVar("principal", default=ANONYMOUS)
deadline_var: ContextVar[float | None] = ContextVar("deadline", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served."""
    return principal_var.get()


def time_remaining() -> float | None:
    """Seconds left until the incoming call's deadline, or None when it has none."""
    deadline = deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


def outgoing_timeout(default: float, margin: float = 0.05, minimum: float = 0.01) -> float:
    """The timeout for a downstream call: the incoming deadline minus a margin, or `default`.

    Raises DeadlineExceeded when too little time is left for the call to be worth making.
    """
    remaining = time_remaining()
    if remaining is None:
        return default
    timeout = min(default, remaining - margin)
    if timeout < minimum:
        raise DeadlineExceeded("too little time left before the caller's deadline")
    return timeout
