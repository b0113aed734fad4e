"""The rate limit holds across processes only with Redis storage.

The app runs under gunicorn with 4 uvicorn workers and ``REFAPP_LAB_LIMIT=N/minute``. 4N
concurrent requests from one client (one bucket: the same address) hit ``/api/v1/lab/limited``:

* with Redis storage, **exactly N** get 200 and 3N get 429: the workers share one moving window;
* with memory storage (the negative control), each worker counts on its own, so more than N
  get through. This over-admission is why the limiter takes ``REFAPP_REDIS_URL``.

Each worker exposes its own ``/metrics``; scraping it shows that the burst really was spread
over several processes (otherwise "exactly N" would prove nothing about sharing).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import PgDb, RedisDb, server, wait_for_serving_workers, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 20
WORKERS = 4
_SERIES = re.compile(
    r'^http_requests_created\{method="GET",route="/api/v1/lab/limited",status="(\d+)"\} (\S+)$', re.M
)


async def _burst(base_url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, trust_env=False) as client:
        return list(await asyncio.gather(*(client.get("/api/v1/lab/limited") for _ in range(count))))


async def _workers_that_served_the_burst(base_url: str, *, scrapes: int = 40) -> int:
    """Distinct processes whose own metrics show /lab/limited traffic (identified by series creation time)."""
    seen: set[tuple[str, ...]] = set()
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(scrapes):  # bounded; each scrape is a new connection, so any worker may take it
            text = (await client.get("/metrics")).text
            created = tuple(sorted(f"{status}@{ts}" for status, ts in _SERIES.findall(text)))
            if created:
                seen.add(created)
            if len(seen) >= 2:
                break
    return len(seen)


async def _run(tmp_path: Path, env: dict[str, str]) -> tuple[Counter[int], list[httpx.Response], int, dict[str, Any]]:
    with server(tmp_path, env, kind="gunicorn", workers=WORKERS) as srv:
        await wait_for_workers(srv, WORKERS)
        await wait_for_serving_workers(srv.base_url, WORKERS)  # all four answer before the burst
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30, trust_env=False) as client:
            config = (await client.get("/api/v1/lab/config")).json()
        responses = await _burst(srv.base_url, 4 * N)
        workers = await _workers_that_served_the_burst(srv.base_url)
    return Counter(r.status_code for r in responses), responses, workers, config


async def test_redis_storage_admits_exactly_n_across_four_workers(
    pg: PgDb, redis_db: RedisDb, live_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    # Fail closed, with a generous Redis timeout: on a busy machine a Redis call can outlast the default
    # 0.5 s, and failing open would then admit silently. Here any storage failure shows up as a 503.
    env = live_env(pg, redis_db, lab_limit=f"{N}/minute", rate_limit_fail_open="false", redis_timeout_s="5")
    statuses, responses, workers, config = await _run(tmp_path, env)
    assert config["limiter_backend"] == "redis"
    assert statuses == {200: N, 429: 3 * N}
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.headers["x-ratelimit-limit"] == str(N) and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert workers >= 2, "the burst was served by one process; it proved nothing about sharing"
    # one shared window in Redis, under the app's prefix
    assert any(b"refapp:test" in k for k in redis_db.client.keys("*"))


async def test_memory_storage_over_admits_across_workers_negative_control(
    pg: PgDb, live_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    """Documents why Redis storage exists: per-process windows let up to WORKERS x N through."""
    env = live_env(pg, None, lab_limit=f"{N}/minute")
    statuses, _responses, workers, config = await _run(tmp_path, env)
    assert config["limiter_backend"] == "memory"
    assert workers >= 2, "precondition: the burst must reach several processes for the control to mean anything"
    assert statuses[200] + statuses[429] == 4 * N
    assert N < statuses[200] <= WORKERS * N, statuses
