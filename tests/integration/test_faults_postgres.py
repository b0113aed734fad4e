"""PostgreSQL faults: a blocked database, an exhausted pool, a stopped and a restarted server.

Each test asserts what a client sees (status codes, problem documents) and what the database
holds afterwards (rows, connections in ``pg_stat_activity``), never just "no exception".
"Bounded" means: within a generous multiple of the configured timeout, where a hang would run
into the client's own timeout instead.

The restart and stop tests use a PostgreSQL container of their own, published on a fixed host
port: Docker gives a restarted container new ephemeral ports, which would strand the session's
URL (and every other test).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from harness.server import free_port
from tests.integration.support import PgDb, PgServer, run_async, wait_for
from tests.utils.containers import DATABASE_URL_ENV, PG_PASSWORD, PG_USER
from tests.utils.factories import create_item, create_user

pytestmark = pytest.mark.integration

#: Generous: a bounded answer comes well inside this; a hang would run past it into the client timeout.
BOUND_FACTOR = 20
#: The statement timeout of the blocked and frozen-server tests. The faults outlast it as long as the
#: test likes (a lock the test holds, a paused container), so it need not be tight; and it also
#: bounds every healthy statement of the test (server side, and 2x it client side, as asyncpg's
#: command timeout), which must not time out because a loaded CI machine was slow for a moment.
STATEMENT_TIMEOUT_MS = 2000
#: The same reasoning for the pool timeout, which is also asyncpg's connect timeout.
POOL_TIMEOUT_S = 2.0


@asynccontextmanager
async def _locked(db: PgDb, table: str = "items") -> AsyncIterator[asyncpg.Connection]:
    conn = await db.connect()
    tx = conn.transaction()
    await tx.start()
    await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    try:
        yield conn
    finally:
        try:
            await tx.rollback()
        finally:
            await conn.close()


async def _app_backends(db: PgDb, blocker: asyncpg.Connection | None = None) -> list[asyncpg.Record]:
    pid = blocker.get_server_pid() if blocker is not None else None
    return await db.backends(exclude_pid=pid)


async def _timed(coro: Any) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = await coro
    return response, time.monotonic() - start


# ---- slow / blocked database ----------------------------------------------------------------------


async def test_blocked_query_gives_bounded_503_and_the_pool_recovers(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    timeout_ms = STATEMENT_TIMEOUT_MS
    settings = pg_settings(pg, db_statement_timeout_ms=timeout_ms, db_pool_size=3, db_max_overflow=0)
    async with app_client(settings) as (_app, client):
        user = await create_user(client)
        await create_item(client, user, name="behind-the-lock")
        blocked = 0
        async with _locked(pg) as blocker:
            results = await asyncio.gather(*(_timed(client.get("/api/v1/items", headers=user.headers))
                                             for _ in range(5)))
            for response, elapsed in results:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.headers["retry-after"]
                assert elapsed < BOUND_FACTOR * timeout_ms / 1000  # (5 requests on 3 connections: 2 rounds)
                blocked += 1
            # while the lock is held, nothing of the app's is left running or in a transaction
            states = {r["state"] for r in await _app_backends(pg, blocker)}
            assert states <= {"idle"}, states
        assert blocked == 5

        # lock gone: the same pool serves again, every connection usable
        responses = await asyncio.gather(*(client.get("/api/v1/items", headers=user.headers) for _ in range(6)))
        assert [r.status_code for r in responses] == [200] * 6
        assert all(r.json()["total"] == 1 for r in responses)
        backends = await _app_backends(pg)
        assert len(backends) <= 3  # never more than the pool allows
        assert {r["state"] for r in backends} == {"idle"}
    # app shut down: every connection it opened is closed (none leaked)
    async def closed() -> bool:
        return await _app_backends(pg) == []

    await wait_for(closed, within=10, what="the app's connections to close")


async def test_blocked_write_gives_503_and_writes_nothing(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    settings = pg_settings(pg, db_statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    async with app_client(settings) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user, name="v1", price=1)
        async with _locked(pg):
            r = await client.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": "*"},
                                 json={"name": "v2", "category": "tools", "price": 2})
            assert r.status_code == 503, r.text
        row = (await pg.fetch("SELECT name, version FROM items WHERE id = $1", item["id"]))[0]
        assert (row["name"], row["version"]) == ("v1", 1)
        r = await client.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": "*"},
                             json={"name": "v2", "category": "tools", "price": 2})
        assert (r.status_code, r.json()["version"]) == (200, 2)


async def test_pool_exhausted_gives_503_after_pool_timeout_not_a_hang(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    pool_timeout = POOL_TIMEOUT_S
    settings = pg_settings(pg, db_pool_size=1, db_max_overflow=0, db_pool_timeout_s=pool_timeout,
                           db_statement_timeout_ms=30_000)
    async with app_client(settings) as (_app, client):
        user = await create_user(client)
        await create_item(client, user)
        async with _locked(pg) as blocker:
            # The holder takes the only connection and waits on the lock inside its query.
            holder = asyncio.create_task(client.get("/api/v1/items", headers=user.headers))

            async def holding() -> bool:
                rows = await _app_backends(pg, blocker)
                return any(r["wait_event_type"] == "Lock" for r in rows)

            await wait_for(holding, within=20, what="the holder to wait on the lock")
            refused, elapsed = await _timed(client.get("/api/v1/users/me", headers=user.headers))
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            assert pool_timeout * 0.9 <= elapsed < BOUND_FACTOR * pool_timeout  # waited for the pool, then gave up
            assert not holder.done()
        held = await asyncio.wait_for(holder, timeout=30)
        assert held.status_code == 200
        after = await client.get("/api/v1/users/me", headers=user.headers)
        assert after.status_code == 200
        assert len(await _app_backends(pg)) == 1


async def test_unresponsive_postgres_gives_bounded_503_and_the_pool_recovers(
    pg: PgDb, pg_container: Any, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    """A frozen server (``docker pause``) can't enforce its statement_timeout; the client-side
    command timeout (2 x statement timeout) must bound the request instead of letting it hang."""
    timeout_ms = STATEMENT_TIMEOUT_MS
    settings = pg_settings(pg, db_statement_timeout_ms=timeout_ms, db_pool_timeout_s=POOL_TIMEOUT_S,
                           db_pool_size=2, db_max_overflow=0)
    bound = BOUND_FACTOR * 2 * timeout_ms / 1000
    async with app_client(settings, raise_app_exceptions=False) as (_app, client):
        user = await create_user(client)
        await create_item(client, user)
        pg_container.pause()
        try:
            # The outer guard (twice the bound) turns a hang into a failure instead of a stuck suite.
            down, elapsed = await _timed(asyncio.wait_for(client.get("/api/v1/items", headers=user.headers),
                                                          2 * bound))
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"] == "1"
            assert elapsed < bound
        finally:
            pg_container.unpause()

        async def serving() -> bool:
            r = await client.get("/api/v1/items", headers=user.headers)
            return r.status_code == 200

        await wait_for(serving, within=30, what="the app to serve again after unpause")
        responses = await asyncio.gather(*(client.get("/api/v1/items", headers=user.headers) for _ in range(4)))
        assert [(r.status_code, r.json()["total"]) for r in responses] == [(200, 1)] * 4
        assert len(await _app_backends(pg)) <= 2

    async def closed() -> bool:
        return await _app_backends(pg) == []

    await wait_for(closed, within=15, what="the app's connections to close")


# ---- a server that goes away --------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres(pg_server: PgServer) -> Iterator[tuple[Any, PgServer]]:
    """A PostgreSQL container of this module's own, on a fixed host port (survives restarts)."""
    import os

    if os.environ.get(DATABASE_URL_ENV, "").strip():
        pytest.skip(f"restarting PostgreSQL needs a container this suite started ({DATABASE_URL_ENV} is set)")
    from testcontainers.community.postgres import PostgresContainer

    from harness.containers.images import postgres_image

    port = free_port()
    container = (
        PostgresContainer(postgres_image().requested, username=PG_USER, password=PG_PASSWORD, dbname="harness",
                          driver="asyncpg")
        .with_env("POSTGRES_INITDB_ARGS", "--no-sync")
        .with_bind_ports(5432, port)
    )
    container.start()
    try:
        server = PgServer(host=container.get_container_host_ip(), port=port, user=PG_USER,
                          password=PG_PASSWORD, admin_db="harness", owned=True)
        run_async(server.prepare)
        yield container.get_wrapped_container(), server
    finally:
        container.stop()


async def _accepting(server: PgServer) -> None:
    async def ok() -> bool:
        return await server.admin.fetchval("SELECT 1") == 1

    await wait_for(ok, within=60, interval=0.25, what="PostgreSQL to accept connections again")


async def test_first_request_after_a_postgres_restart_succeeds(
    own_postgres: tuple[Any, PgServer], pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    container, server = own_postgres
    db = await server.create_database()
    async with app_client(pg_settings(db, db_pool_size=4)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user)
        # warm the pool: several connections that the restart will kill
        warm = await asyncio.gather(*(client.get("/api/v1/items", headers=user.headers) for _ in range(4)))
        assert {r.status_code for r in warm} == {200}
        before = {r["pid"] for r in await db.backends()}
        assert before

        try:
            await asyncio.to_thread(container.restart, timeout=10)
        finally:
            await _accepting(server)

        first = await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)
        assert first.status_code == 200, first.text  # pool_pre_ping replaced the dead connection
        assert first.json()["id"] == item["id"]
        rest = await asyncio.gather(*(client.get("/api/v1/items", headers=user.headers) for _ in range(4)))
        assert [r.status_code for r in rest] == [200] * 4
        after = {r["pid"] for r in await db.backends()}
        assert after
        assert not after & before  # every connection is new


async def test_stopped_postgres_gives_503_and_recovers_when_started(
    own_postgres: tuple[Any, PgServer], pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    container, server = own_postgres
    db = await server.create_database()
    async with app_client(pg_settings(db, db_pool_timeout_s=POOL_TIMEOUT_S),
                          raise_app_exceptions=False) as (_app, client):
        user = await create_user(client)
        await create_item(client, user)
        try:
            await asyncio.to_thread(container.stop, timeout=10)
            down, elapsed = await _timed(client.get("/api/v1/items", headers=user.headers))
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert elapsed < BOUND_FACTOR * POOL_TIMEOUT_S
            ready = await client.get("/health/ready")
            assert (ready.status_code, ready.json()["checks"]["database"]) == (503, "failed")
        finally:
            await asyncio.to_thread(container.start)
            await _accepting(server)
        first = await client.get("/api/v1/items", headers=user.headers)
        assert (first.status_code, first.json()["total"]) == (200, 1)
        assert (await client.get("/health/ready")).status_code == 200
