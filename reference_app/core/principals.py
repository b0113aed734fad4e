"""Who a credential belongs to, remembered for a few seconds so a hot read needs no database.

A verified bearer token or an API key maps to a :class:`Principal` snapshot (user id, role,
scopes). Looking that up on every request cost one query per request, which is what a cached read
was meant to save. The snapshot lives for ``REFAPP_PRINCIPAL_CACHE_TTL_S`` seconds (never past the
token's own expiry) and is dropped **explicitly** whenever what it says stops being true:

- a role change or a deactivation (``services.users.set_role`` / ``set_active``) drops every entry of
  that user: their tokens and their API keys;
- revoking an API key drops that key's entry.

Both take effect at once in the process that makes the change. Other worker processes (gunicorn
with several workers) hold their own cache, so there a change takes effect within the TTL: that is
the documented bound (README, docs/api-surface.md). ``REFAPP_PRINCIPAL_CACHE_TTL_S=0`` turns the
cache off (every request asks the database, as before).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

PrincipalKind = Literal["user", "api_key", "client"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject: str
    scopes: tuple[str, ...]
    user_id: int | None = None
    role: str | None = None
    api_key_id: int | None = None

    @property
    def rate_key(self) -> str:
        return f"key:{self.api_key_id}" if self.kind == "api_key" else f"{self.kind}:{self.subject}"


class PrincipalCache:
    """LRU with per-entry expiry and tags ``user:<id>``/``apikey:<id>`` for invalidation.

    One event loop per process, so no locking. Keys are the credential itself (the bearer token, the
    API key's sha256): a token that was verified once stays verified until it expires, and a
    different token (another signature, another claim) is a different key.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._data: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, key: str) -> Principal | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, principal = entry
        if expires <= time.monotonic():
            del self._data[key]
            return None
        return principal

    def put(self, key: str, principal: Principal, *, not_after_s: float | None = None) -> None:
        """Remember ``principal`` for the TTL, or for ``not_after_s`` seconds if that is sooner."""
        if not self.enabled:
            return
        ttl = self.ttl_s if not_after_s is None else min(self.ttl_s, not_after_s)
        if ttl <= 0:
            return
        self._data[key] = (time.monotonic() + ttl, principal)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def invalidate_user(self, user_id: int) -> int:
        """Drop every credential of the user (tokens and API keys); returns how many were dropped."""
        return self._drop(lambda p: p.user_id == user_id)

    def invalidate_api_key(self, key_id: int) -> int:
        return self._drop(lambda p: p.api_key_id == key_id)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def _drop(self, matches: Callable[[Principal], bool]) -> int:
        # A scan rather than an index: invalidation is rare (an admin action), lookups are not, and
        # a scan can't get out of step with the entries the LRU evicts.
        stale = [key for key, (_, principal) in self._data.items() if matches(principal)]
        for key in stale:
            del self._data[key]
        return len(stale)
