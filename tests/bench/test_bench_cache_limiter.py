"""The in-memory cache (``MemoryCache`` get/set) and the rate limiter (``RateLimiter.hit``, memory storage).

Both are async APIs: each benchmark round awaits ``BATCH`` operations inside one
``run_until_complete`` on the module's loop (see conftest).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reference_app.core.cache import MemoryCache, item_key
from reference_app.core.ratelimit import RateLimiter
from tests.bench.conftest import BATCH, bench_settings, per_op, run_batch

pytestmark = pytest.mark.bench

VALUE = b'{"id": 1, "name": "item 1", "price": "1.99"}' * 4
KEYS = [item_key("refapp:test", i) for i in range(BATCH)]


@pytest.fixture
def warm_cache(bench_loop: asyncio.AbstractEventLoop) -> MemoryCache:
    cache = MemoryCache(max_entries=10_000)
    run_batch(bench_loop, lambda i: cache.set(KEYS[i], VALUE, 3600))
    return cache


@pytest.mark.benchmark(group="cache (memory) x100")
def test_cache_get_hit(benchmark: Any, bench_loop: asyncio.AbstractEventLoop, warm_cache: MemoryCache) -> None:
    per_op(benchmark, BATCH)
    last = benchmark(run_batch, bench_loop, lambda i: warm_cache.get(KEYS[i]))
    assert last == VALUE
    assert run_batch(bench_loop, lambda i: warm_cache.get(f"missing:{i}")) is None


@pytest.mark.benchmark(group="cache (memory) x100")
def test_cache_set(benchmark: Any, bench_loop: asyncio.AbstractEventLoop) -> None:
    cache = MemoryCache(max_entries=BATCH)  # bounded: every round replaces the same keys, eviction included
    per_op(benchmark, BATCH)
    benchmark(run_batch, bench_loop, lambda i: cache.set(KEYS[i], VALUE, 3600))
    assert bench_loop.run_until_complete(cache.get(KEYS[-1])) == VALUE
    assert len(cache._data) == BATCH


# A fixed number of rounds keeps every client under the app's default limit (600/minute), so what
# is timed is the common path: a request that is counted and allowed, as every limited route pays.
# The client pool is small on purpose: limits' memory storage sweeps expired windows with one
# thread hop *per key* (``MemoryStorage.__expire_events``), so its cost grows with distinct keys.
CLIENTS = 20
LIMITER_ROUNDS = 50  # (50 + 1 warm-up) x 100 hits / 20 clients = 255 hits per client < 600


@pytest.mark.benchmark(group="rate limiter (memory) x100")
def test_limiter_hit_under_limit(benchmark: Any, bench_loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    limiter = RateLimiter(bench_settings(tmp_path, default_limit="600/minute"))
    assert limiter.backend == "memory"
    limit = limiter.limits["default_limit"]
    counter = iter(range(10**9))

    def hit(_i: int) -> Any:
        return limiter.hit("bench", limit, f"ip:client-{next(counter) % CLIENTS}")

    per_op(benchmark, BATCH)
    try:
        # Raises TooManyRequests (failing the benchmark) if a client were ever over its limit.
        state = benchmark.pedantic(run_batch, args=(bench_loop, hit), rounds=LIMITER_ROUNDS, iterations=1,
                                   warmup_rounds=1)
        assert state.limit == 600
        assert 0 <= state.remaining < 600
        assert state.reset_after_s >= 1
    finally:
        bench_loop.run_until_complete(_close(limiter))
        # The storage ran blocking calls on the loop's default executor; its threads are this test's.
        bench_loop.run_until_complete(bench_loop.shutdown_default_executor())


async def _close(limiter: RateLimiter) -> None:
    """Stop the storage's background expiry task so the loop closes clean."""
    await limiter.reset()
    timer = getattr(limiter.storage, "timer", None)
    if timer is not None and not timer.done():
        timer.cancel()
        await asyncio.gather(timer, return_exceptions=True)
