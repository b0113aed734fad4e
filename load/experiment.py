"""Experiments as data: arms, their server configuration, and the order rounds run in.

An *arm* is one variant: a profile (Locust file) with generator-side options (``profile_env``,
e.g. ``HARNESS_ARM=async``) and a server (kind, workers, ``app_env`` such as
``REFAPP_MIDDLEWARE=bare``). Arms with equal server configuration share one server process.
Rounds of the arms are interleaved (counterbalanced ABBA... or seeded random blocks) so slow
drift of the machine (thermal, page cache, noisy neighbours) hits every arm alike.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness import exitcodes

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
BoundKind = Literal["littles_law", "thread_pool", "rate_limit"]
OrderKind = Literal["abba", "random"]


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    profile: str  # file stem in load/profiles
    description: str = ""
    profile_env: Mapping[str, str] = field(default_factory=dict)
    app_env: Mapping[str, str] = field(default_factory=dict)
    server: Literal["uvicorn", "gunicorn"] | None = None  # None: the run's --server
    workers: int | None = None  # None: the run's --workers
    bound: BoundKind | None = None

    @property
    def profile_path(self) -> Path:
        return PROFILES_DIR / f"{self.profile}.py"


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    description: str
    arms: tuple[Arm, ...]
    users: int = 20
    seed_items: int = 0  # > 0: register a user and create this many items before measuring
    aa_arm: str | None = None  # which arm --aa duplicates (default: the last)
    io_ms: int | None = None  # for io: simulated I/O per request
    per_user_rps: float | None = None  # for ratelimit: constant_throughput per user
    app_env: Mapping[str, str] = field(default_factory=dict)  # server env shared by every arm
    checks: tuple[str, ...] = ("checks_failed",)  # counters always reported in results["checks"]
    #: Not None: start the pricing downstream (reference_app.downstream) with this PRICING_* env,
    #: shared by every arm, and point each app server's REFAPP_PRICING_URL at it.
    downstream_env: Mapping[str, str] | None = None
    #: Locust processes when the caller doesn't say: max-throughput experiments need more than one
    #: on this hardware, or the generator saturates before the server (NOTES-performance.md).
    generator_processes: int = 1


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.py") if not p.stem.startswith("_"))


_BARE_HEADERS = {"HARNESS_REQUIRE_HEADERS": ""}  # no correlation middleware, no X-Request-ID

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "io", "I/O-bound handler: def + time.sleep (thread pool) vs async def + asyncio.sleep",
            (Arm("io_sync", "io_bound", "def handler, time.sleep(ms)", {"HARNESS_ARM": "sync"}, bound="thread_pool"),
             Arm("io_async", "io_bound", "async def handler, asyncio.sleep(ms)", {"HARNESS_ARM": "async"},
                 bound="littles_law")),
            # 200 users: the ceilings are 200/0.2 = 1000 rps (async) vs 40/0.2 = 200 rps (40 threads),
            # so the experiment can show up to 5x; at 100 users the async ceiling (500) capped it at 2.5x.
            users=200, io_ms=200),
        Experiment(
            "cache", "GET /items/{id} from the database vs the read-through cache",
            (Arm("uncached", "cache", "GET /items/{id} (database)", {"HARNESS_ARM": "uncached"}),
             Arm("cached", "cache", "GET /items/{id}/cached", {"HARNESS_ARM": "cached"})),
            users=20, seed_items=100, app_env={"REFAPP_CACHE_TTL_S": "3600"},
            checks=("checks_failed", "cache_mismatches", "cache_hit", "cache_miss")),
        Experiment(
            "ratelimit", "rate-limited op vs its unlimited twin at a known offered load above the limit",
            (Arm("unlimited", "ratelimit", "GET /lab/unlimited", {"HARNESS_ARM": "unlimited"}),
             Arm("limited", "ratelimit", "GET /lab/limited (REFAPP_LAB_LIMIT)", {"HARNESS_ARM": "limited"},
                 bound="rate_limit")),
            users=40, per_user_rps=5.0,
            app_env={"REFAPP_RATE_LIMIT_ENABLED": "true", "REFAPP_LAB_LIMIT": "50/second"},
            checks=("checks_failed", "rate_limited")),
        Experiment(
            "middleware", "middleware stack overhead on /lab/hello: REFAPP_MIDDLEWARE=bare vs full",
            (Arm("bare", "hello", "REFAPP_MIDDLEWARE=bare", _BARE_HEADERS, {"REFAPP_MIDDLEWARE": "bare"}),
             Arm("full", "hello", "REFAPP_MIDDLEWARE=full", {}, {"REFAPP_MIDDLEWARE": "full"})),
            users=20, generator_processes=2),
        Experiment(
            "server", "uvicorn with 1 worker vs gunicorn (uvicorn workers) with 2 on /lab/hello",
            (Arm("uvicorn_1", "hello", "uvicorn, 1 worker", server="uvicorn", workers=1),
             Arm("gunicorn_2", "hello", "gunicorn, 2 workers", server="gunicorn", workers=2)),
            users=20, generator_processes=2),
        Experiment(
            "downstream", "GET /items/{id}/quote while the pricing downstream hangs (5 s per call): "
            "circuit breaker off vs on",
            (Arm("breaker_off", "downstream", "REFAPP_PRICING_BREAKER_ENABLED=false: every call waits out "
                 "the timeouts and retries", app_env={"REFAPP_PRICING_BREAKER_ENABLED": "false"}),
             Arm("breaker_on", "downstream", "REFAPP_PRICING_BREAKER_ENABLED=true: the breaker opens and "
                 "calls fail fast", app_env={"REFAPP_PRICING_BREAKER_ENABLED": "true"})),
            users=20, seed_items=50,
            downstream_env={"PRICING_LATENCY_MS": "5000", "PRICING_LOG_REQUESTS": "false",
                            "PRICING_LOG_LEVEL": "WARNING"}),
        Experiment(
            "effect", "a declared 15% rps drop: async I/O of 200 ms vs 235 ms (200/235 = 0.85 by Little's law); "
            "checks that the default plan detects an effect of that size",
            (Arm("io_200ms", "io_bound", "async def, asyncio.sleep(200 ms)", {"HARNESS_ARM": "async"}),
             Arm("io_235ms", "io_bound", "async def, asyncio.sleep(235 ms): 15% fewer rps",
                 {"HARNESS_ARM": "async", "HARNESS_IO_MS": "235"})),
            # 20 users: 100 vs 85 rps needs little CPU, so Little's law holds even on a busy machine (at
            # 100 users a box whose other processes used 1.7 of 2 cores starved the event loop: 290 rps
            # for a bound of 500, and the injected 15% drowned in CPU queueing).
            users=20, io_ms=200),
        Experiment(
            "journey", "a user's journey: login, CRUD, filtered lists, upload and download",
            (Arm("journey", "journey", "mixed journey"),), users=20, seed_items=50),
    )
}


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise exitcodes.HarnessError(
            f"unknown profile {name!r}; choose from {', '.join(sorted(EXPERIMENTS))}") from None


def aa_variant(exp: Experiment) -> Experiment:
    """A/A: the same arm twice (``X`` and ``X_b``); any 'significant' difference is noise."""
    base = next((a for a in exp.arms if a.name == exp.aa_arm), exp.arms[-1])
    twin = dataclasses.replace(base, name=f"{base.name}_b", description=f"A/A twin of {base.name}")
    return dataclasses.replace(exp, name=exp.name, arms=(base, twin),
                               description=f"A/A check of {base.name}: {exp.description}")


def round_order(arms: Sequence[str], rounds_per_arm: int, *, seed: int = 0,
                method: OrderKind = "abba") -> list[str]:
    """Measured-round order. Every arm appears exactly ``rounds_per_arm`` times.

    ``abba`` (two arms): blocks alternate AB, BA, AB... (counterbalanced against linear drift).
    With more arms, ``abba`` alternates the forward and reversed arm order per block.
    ``random``: every block is a seeded random permutation of the arms.
    """
    if rounds_per_arm < 1:
        raise ValueError("rounds_per_arm must be >= 1")
    if len(set(arms)) != len(arms) or not arms:
        raise ValueError("arms must be non-empty and unique")
    if method not in ("abba", "random"):
        raise ValueError(f"unknown order method {method!r}")
    rng = random.Random(seed)
    order: list[str] = []
    for block in range(rounds_per_arm):
        names = list(arms)
        if method == "random":
            rng.shuffle(names)
        elif block % 2 == 1:
            names.reverse()
        order.extend(names)
    return order


def server_key(arm: Arm, default_server: str, default_workers: int, base_env: Mapping[str, str]) -> tuple[
        str, int, tuple[tuple[str, str], ...]]:
    server = arm.server or default_server
    workers = arm.workers or (default_workers if server == "gunicorn" else 1)
    env = {**base_env, **arm.app_env}
    return server, workers, tuple(sorted(env.items()))
