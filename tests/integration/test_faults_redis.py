"""Redis faults: the session's Redis container is paused (``docker pause``), then unpaused.

A paused Redis still accepts TCP connections (the kernel does) but never answers, which is the
nastiest way for a dependency to fail: only the app's timeouts (``REFAPP_REDIS_TIMEOUT_S``)
save it. Every test unpauses in ``finally`` and waits for Redis to answer again, so the rest
of the session is unaffected.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis

from tests.integration.support import PgDb, RedisDb, wait_for
from tests.utils.factories import create_item, create_user

pytestmark = pytest.mark.integration

#: The app's Redis timeout. A paused Redis never answers (an injected latency without end), so the
#: value only sets how long each call during the pause takes. It is 1 s, not 0.3 s, because the same
#: timeout bounds every *healthy* call of these tests too (the miss/hit and 200/200/429 before the
#: pause, the recovery after it), and on a loaded CI machine one of those can take several hundred
#: ms: a spurious timeout there is a cache miss or a fail-open admission, i.e. a wrong assertion.
#: (Much more would make each paused request cost seconds: it makes several Redis calls.)
REDIS_TIMEOUT_S = 1.0
#: A request makes at most a handful of Redis calls, each bounded by REDIS_TIMEOUT_S; generous headroom.
BOUND_S = 30 * REDIS_TIMEOUT_S


@contextlib.asynccontextmanager
async def paused(container: Any, db: RedisDb) -> AsyncIterator[None]:
    container.pause()
    try:
        yield
    finally:
        container.unpause()

        async def answers() -> bool:
            return bool(db.client.ping())

        await wait_for(answers, within=30, what="Redis to answer after unpause")


async def test_cached_reads_fall_back_to_the_database_while_redis_is_paused(
    pg: PgDb, redis_db: RedisDb, redis_container: Any, pg_settings: Callable[..., Any],
    app_client: Callable[..., Any]
) -> None:
    settings = pg_settings(pg, redis_db, redis_timeout_s=REDIS_TIMEOUT_S, rate_limit_fail_open=True)
    async with app_client(settings) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user, name="while-paused", price=7)
        url = f"/api/v1/items/{item['id']}/cached"
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "miss"
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "hit"

        async with paused(redis_container, redis_db):
            for _ in range(3):
                start = time.monotonic()
                r = await client.get(url, headers=user.headers)
                assert time.monotonic() - start < BOUND_S
                assert r.status_code == 200, r.text
                assert (r.headers["x-cache"], r.json()["name"]) == ("miss", "while-paused")  # from the database
            # writes go on too; the failed invalidation is logged, not raised
            r = await client.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": "*"},
                                 json={"name": "renamed-while-paused", "category": "tools", "price": 8})
            assert r.status_code == 200
            listing = await client.get("/api/v1/items", headers=user.headers)
            assert listing.status_code == 200
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": "ok", "cache": "failed", "rate_limiter": "failed"}

        # Redis is back: readiness recovers and the cache works again
        assert (await client.get("/health/ready")).status_code == 200
        redis_db.client.delete(f"refapp:test:item:{item['id']}")  # the entry the paused PUT could not invalidate
        after = await client.get(url, headers=user.headers)
        assert (after.headers["x-cache"], after.json()["name"]) == ("miss", "renamed-while-paused")
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "hit"


async def test_limiter_fails_open_while_redis_is_paused(
    pg: PgDb, redis_db: RedisDb, redis_container: Any, pg_settings: Callable[..., Any],
    app_client: Callable[..., Any]
) -> None:
    settings = pg_settings(pg, redis_db, redis_timeout_s=REDIS_TIMEOUT_S, rate_limit_fail_open=True,
                           lab_limit="2/minute")
    async with app_client(settings) as (app, client):
        assert app.state.limiter.backend == "redis"
        assert [(await client.get("/api/v1/lab/limited")).status_code for _ in range(3)] == [200, 200, 429]
        async with paused(redis_container, redis_db):
            statuses = [(await client.get("/api/v1/lab/limited")).status_code for _ in range(3)]
            assert statuses == [200, 200, 200]  # open: admitted without counting
        # back on Redis, the window that was counted before the pause still applies
        assert (await client.get("/api/v1/lab/limited")).status_code == 429


async def test_limiter_fails_closed_while_redis_is_paused(
    pg: PgDb, redis_db: RedisDb, redis_container: Any, pg_settings: Callable[..., Any],
    app_client: Callable[..., Any]
) -> None:
    settings = pg_settings(pg, redis_db, redis_timeout_s=REDIS_TIMEOUT_S, rate_limit_fail_open=False,
                           lab_limit="5/minute")
    async with app_client(settings) as (_app, client):
        assert (await client.get("/api/v1/lab/limited")).status_code == 200
        async with paused(redis_container, redis_db):
            for _ in range(2):
                start = time.monotonic()
                r = await client.get("/api/v1/lab/limited")
                assert time.monotonic() - start < BOUND_S
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert r.headers["retry-after"] == "1"
            # the unlimited twin does not depend on Redis at all
            assert (await client.get("/api/v1/lab/unlimited")).status_code == 200
        r = await client.get("/api/v1/lab/limited")
        assert r.status_code == 200
        # A command that timed out on the client was still queued in the paused server's socket and may
        # run after the unpause, so the refused requests can have been counted (at most once each).
        assert 1 <= int(r.headers["x-ratelimit-remaining"]) <= 3


async def test_redis_client_sees_the_limiter_keys_under_the_app_prefix(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db, lab_limit="3/minute")) as (_app, client):
        for _ in range(2):
            assert (await client.get("/api/v1/lab/limited")).status_code == 200
    keys = [k.decode() for k in redis_db.client.keys("*")]
    assert keys, "the limiter stored nothing in Redis"
    assert all("refapp:test" in k and "lab" in k for k in keys), keys
    with contextlib.suppress(redis.RedisError):
        redis_db.client.close()
