"""Bearer tokens already verified by this process, so a client that sends the same token on every call
pays for signature and claim checks once, not per call.

An entry lives until the token expires or `max_age` has passed, whichever is first, so a key removed
from the key source stops being honoured within `max_age`. The cache holds at most `max_entries`
tokens and drops the least recently used first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta

from common.request_context import Principal

DEFAULT_MAX_AGE = timedelta(seconds=60)
DEFAULT_MAX_ENTRIES = 10_000


class VerifiedTokens:
    """Token -> (principal, valid until) for tokens whose verification succeeded."""

    def __init__(
        self,
        max_age: timedelta = DEFAULT_MAX_AGE,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._max_age = max_age.total_seconds()
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        """The principal of a token verified earlier and still valid, else None."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, valid_until = entry
        if self._clock() >= valid_until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        """Remembers a verified token until `expires_at` (its `exp`, epoch seconds) or `max_age`."""
        self._entries[token] = (principal, min(expires_at, self._clock() + self._max_age))
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
