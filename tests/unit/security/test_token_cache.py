"""Verified tokens are remembered until they expire or their time in the cache runs out."""

from __future__ import annotations

from datetime import timedelta

from common.policy import Role
from common.request_context import Principal
from common.token_cache import VerifiedTokens

ALICE = Principal(subject="alice", roles=frozenset({Role.ROLE_TRAVELLER}))


class Seconds:
    """A clock in epoch seconds that the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_served_until_it_expires() -> None:
    clock = Seconds()
    cache = VerifiedTokens(max_age=timedelta(minutes=5), clock=clock)
    cache.put("t", ALICE, expires_at=clock.now + 30)
    assert cache.get("t") == ALICE
    clock.now += 29.9
    assert cache.get("t") == ALICE
    clock.now += 0.1
    assert cache.get("t") is None
    assert cache.get("never-seen") is None


def test_a_long_lived_token_is_checked_again_after_max_age() -> None:
    clock = Seconds()
    cache = VerifiedTokens(max_age=timedelta(seconds=60), clock=clock)
    cache.put("t", ALICE, expires_at=clock.now + 3600)
    clock.now += 60
    assert cache.get("t") is None


def test_the_least_recently_used_token_goes_first() -> None:
    cache = VerifiedTokens(max_entries=2, clock=Seconds())
    for token in ("a", "b"):
        cache.put(token, ALICE, expires_at=2e6)
    assert cache.get("a") == ALICE  # b is now the least recently used
    cache.put("c", ALICE, expires_at=2e6)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (ALICE, None, ALICE)
