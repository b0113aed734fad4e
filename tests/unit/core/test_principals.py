"""The principal cache: expiry, the token-expiry cap, eviction, and invalidation by user and by key."""

from __future__ import annotations

import pytest

from reference_app.core import principals as principals_module
from reference_app.core.principals import Principal, PrincipalCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(principals_module.time, "monotonic", fake)
    return fake


ALICE = Principal("user", "1", ("read", "write"), user_id=1, role="user")
ALICE_KEY = Principal("api_key", "1", ("read",), user_id=1, role="user", api_key_id=7)
BOB = Principal("user", "2", ("read", "write"), user_id=2, role="user")


def test_entries_expire_after_the_ttl(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=5)
    cache.put("t", ALICE)
    clock.now += 4.9
    assert cache.get("t") == ALICE
    clock.now += 0.2
    assert cache.get("t") is None


def test_never_past_the_credentials_own_expiry(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=5)
    cache.put("t", ALICE, not_after_s=1)
    clock.now += 1.01
    assert cache.get("t") is None
    cache.put("expired", ALICE, not_after_s=-3)
    assert cache.get("expired") is None


def test_ttl_zero_caches_nothing(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=0)
    cache.put("t", ALICE)
    assert (cache.get("t"), len(cache), cache.enabled) == (None, 0, False)


def test_invalidate_user_drops_tokens_and_keys_of_that_user_only(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=5)
    cache.put("jwt:a", ALICE)
    cache.put("key:a", ALICE_KEY)
    cache.put("jwt:b", BOB)
    assert cache.invalidate_user(1) == 2
    assert (cache.get("jwt:a"), cache.get("key:a"), cache.get("jwt:b")) == (None, None, BOB)


def test_invalidate_api_key_drops_that_key_only(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=5)
    cache.put("jwt:a", ALICE)
    cache.put("key:a", ALICE_KEY)
    assert cache.invalidate_api_key(7) == 1
    assert (cache.get("jwt:a"), cache.get("key:a")) == (ALICE, None)


def test_bounded_least_recently_stored_goes_first(clock: Clock) -> None:
    cache = PrincipalCache(ttl_s=5, max_entries=2)
    cache.put("1", ALICE)
    cache.put("2", BOB)
    cache.put("3", ALICE_KEY)
    assert (len(cache), cache.get("1"), cache.get("3")) == (2, None, ALICE_KEY)
