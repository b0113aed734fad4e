"""The rate limit holds across processes only with Redis storage.

The app runs under gunicorn with 4 uvicorn workers and ``REFAPP_LAB_LIMIT=N/minute``. 2N
concurrent requests from one client (one bucket: the same address) hit ``/api/v1/lab/limited``,
at most N on any one worker, so at least two workers share them:

* with Redis storage, **exactly N** get 200 and N get 429: the workers share one moving window;
* with memory storage (the negative control), each worker counts on its own and admits every
  request it gets, so all 2N get through. This over-admission is why the limiter takes
  ``REFAPP_REDIS_URL``.

Which worker serves a request is not left to the kernel: a burst of new connections can be
accepted all at once by whichever worker wakes first (asyncio accepts up to its backlog per
wake-up), and then "exactly N" proves nothing about sharing. So each request rides a kept-alive
connection that was first pinned to a known worker by a ``/metrics`` scrape on it, and its local
port shows it was still that connection.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import (
    PgDb,
    RedisDb,
    server,
    wait_for_serving_workers,
    wait_for_workers,
    worker_identity,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 20
WORKERS = 4
# Pinned connections wait idle while the rest are pinned: neither gunicorn's 5 s keep-alive nor
# httpx's 5 s keep-alive expiry may close one meanwhile.
_SERVER_ARGS = {"GUNICORN_CMD_ARGS": "--keep-alive 300"}
_ONE_KEPT_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=None)


@dataclass(frozen=True)
class _Pinned:
    client: httpx.AsyncClient  # one connection, kept alive
    worker: str
    port: int


def _local_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


async def _connect(base_url: str) -> _Pinned | None:
    client = httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False, limits=_ONE_KEPT_CONNECTION)
    response = await client.get("/metrics")
    worker = worker_identity(response.text)
    if worker is None:
        await client.aclose()
        return None
    return _Pinned(client, worker, _local_port(response))


async def _pin(base_url: str, *, total: int, per_worker: int, within: float = 120.0) -> list[_Pinned]:
    """``total`` connections, at most ``per_worker`` on any one process (bounded in time; fails if not met).

    Workers do not take new connections evenly (one often takes most), so connections to a worker
    that has its share are closed and others opened until every share is placed.
    """
    kept: dict[str, list[_Pinned]] = {}
    deadline = time.monotonic() + within
    try:
        while sum(len(group) for group in kept.values()) < total:
            if time.monotonic() >= deadline:
                counts = sorted((len(g) for g in kept.values()), reverse=True)
                raise AssertionError(f"could not pin {total} connections, <= {per_worker} a worker: {counts}")
            for pinned in await asyncio.gather(*(_connect(base_url) for _ in range(8))):
                if pinned is None:
                    continue
                group = kept.setdefault(pinned.worker, [])
                if len(group) < per_worker and sum(len(g) for g in kept.values()) < total:
                    group.append(pinned)
                else:
                    await pinned.client.aclose()
    except BaseException:
        await asyncio.gather(*(p.client.aclose() for group in kept.values() for p in group))
        raise
    return [p for group in kept.values() for p in group]


_Outcome = tuple[dict[str, Counter[int]], list[httpx.Response], dict[str, Any]]


async def _run(tmp_path: Path, env: dict[str, str]) -> _Outcome:
    """Per worker, the statuses its requests got; all responses; the app's reported config."""
    with server(tmp_path, env | _SERVER_ARGS, kind="gunicorn", workers=WORKERS) as srv:
        await wait_for_workers(srv, WORKERS)
        await wait_for_serving_workers(srv.base_url, WORKERS)  # all four answer before pinning
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30, trust_env=False) as client:
            config = (await client.get("/api/v1/lab/config")).json()
        pinned = await _pin(srv.base_url, total=2 * N, per_worker=N)
        try:
            responses = list(await asyncio.gather(*(p.client.get("/api/v1/lab/limited") for p in pinned)))
            moved = [p.port for p, r in zip(pinned, responses, strict=True) if _local_port(r) != p.port]
        finally:
            await asyncio.gather(*(p.client.aclose() for p in pinned))
    assert not moved, f"{len(moved)} requests left their pinned connection; which worker served them is unknown"
    per_worker: dict[str, Counter[int]] = {}
    for p, r in zip(pinned, responses, strict=True):
        per_worker.setdefault(p.worker, Counter())[r.status_code] += 1
    return per_worker, responses, config


async def test_redis_storage_admits_exactly_n_across_four_workers(
    pg: PgDb, redis_db: RedisDb, live_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    # Fail closed, with a generous Redis timeout: on a busy machine a Redis call can outlast the default
    # 0.5 s, and failing open would then admit silently. Here any storage failure shows up as a 503.
    env = live_env(pg, redis_db, lab_limit=f"{N}/minute", rate_limit_fail_open="false", redis_timeout_s="5")
    per_worker, responses, config = await _run(tmp_path, env)
    assert config["limiter_backend"] == "redis"
    served = [sum(c.values()) for c in per_worker.values()]
    assert len(served) >= 2, per_worker  # several processes counted against one window
    assert max(served) <= N, per_worker
    assert Counter(r.status_code for r in responses) == {200: N, 429: N}
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.headers["x-ratelimit-limit"] == str(N) and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    # one shared window in Redis, under the app's prefix
    assert any(b"refapp:test" in k for k in redis_db.client.keys("*"))


async def test_memory_storage_over_admits_across_workers_negative_control(
    pg: PgDb, live_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    """Documents why Redis storage exists: per-process windows let up to WORKERS x N through."""
    env = live_env(pg, None, lab_limit=f"{N}/minute")
    per_worker, responses, config = await _run(tmp_path, env)
    assert config["limiter_backend"] == "memory"
    assert len(per_worker) >= 2, per_worker
    assert Counter(r.status_code for r in responses) == {200: 2 * N}, per_worker
