"""Read-through cache vs the database: GET /api/v1/items/{id}/cached vs GET /api/v1/items/{id}.

The seeded account logs in once per Locust process (POST /api/v1/auth/token) and every user
shares that token, then reads random ids from the seeded set (``HARNESS_ITEM_IDS``; the same ids in both
arms, the same seeded sequence per user). The cached arm checks every body against the database's
answer, fetched once per id per process before measurement; differences are counted in
``cache_mismatches`` (a stale or wrong cache is a correctness failure, not a latency).

``HARNESS_PER_USER_RPS`` > 0 paces every user (``_pacing.SlotPacer``: R requests per second, each at
a random point of its 1/R slot, so users don't arrive in bursts): a fixed offered load below capacity,
where latency shows what a request costs rather than how long the queue is (the ``item_read``
experiment that ``harness compare`` runs). Unset or 0: closed loop, no think time.
"""

from __future__ import annotations

import random
from typing import Any

import gevent
from gevent.lock import Semaphore
from locust import FastHttpUser, events, task

from load.profiles import _common as c
from load.profiles._pacing import SlotPacer

_REFERENCE: dict[str, Any] = {}
_REFERENCE_LOCK = Semaphore()
# Fields that legitimately differ between two reads of the same row: none for a GET.
_VOLATILE: tuple[str, ...] = ()


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {
        "arm": ("cached", "cached|uncached"),
        "per_user_rps": ("0", "requests per second each user offers (0: no pacing)"),
        **c.SEEDED_OPTIONS,
        **c.SEED_OPTION,
    })


def _comparable(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in _VOLATILE}
    return body


class CacheUser(FastHttpUser):
    def on_start(self) -> None:
        env = self.environment
        rate = float(c.option(env, "per_user_rps", "0") or 0)
        self.arm = c.option(env, "arm", "cached")
        if self.arm not in ("cached", "uncached"):
            raise ValueError(f"arm must be cached or uncached, not {self.arm!r}")
        self.ids = c.item_ids(env)
        if not self.ids:
            raise ValueError("HARNESS_ITEM_IDS is empty: the runner seeds items before measuring")
        token = c.shared_login(self.client, c.option(env, "email", ""), c.option(env, "password", ""))
        self.headers = c.auth_header(token or "")
        self.rng = c.user_rng(env)
        if self.arm == "cached":
            self._load_reference()
        # Last, after the shared login released every user at the same instant.
        self._pacer = SlotPacer(rate, random.Random(self.rng.getrandbits(64))) if rate > 0 else None
        if self._pacer is not None:
            gevent.sleep(self._pacer.first_wait())

    def wait_time(self) -> float:
        return self._pacer() if self._pacer is not None else 0.0

    def _load_reference(self) -> None:
        with _REFERENCE_LOCK:  # the first user of the process fetches, the others wait
            for item_id in self.ids:
                if item_id in _REFERENCE:
                    continue
                with self.client.get(f"/api/v1/items/{item_id}", headers=self.headers,
                                     name="setup: reference /items/[id]", catch_response=True) as resp:
                    body = c.check(resp, keys=("id", "name", "price"))
                if body is not None:
                    _REFERENCE[item_id] = _comparable(body)

    @task
    def read(self) -> None:
        item_id = self.rng.choice(self.ids)
        if self.arm == "uncached":
            with self.client.get(f"/api/v1/items/{item_id}", headers=self.headers,
                                 name="/items/[id]", catch_response=True) as resp:
                c.check(resp, keys=("id", "name", "price"))
            return
        with self.client.get(f"/api/v1/items/{item_id}/cached", headers=self.headers,
                             name="/items/[id]/cached", catch_response=True) as resp:
            body = c.check(resp, keys=("id", "name", "price"))
            if body is None:
                return
            if c.header(resp, "X-Cache") not in ("hit", "miss"):
                c.count("checks_failed")
                resp.failure("X-Cache must be hit or miss")
                return
            c.count("cache_" + str(c.header(resp, "X-Cache")))
            reference = _REFERENCE.get(item_id)
            if reference is not None and _comparable(body) != reference:
                c.count("cache_mismatches")
