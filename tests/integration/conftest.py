"""Fixtures of the integration suite: real PostgreSQL and Redis, isolated per test.

The containers come from the session fixtures of ``tests.utils.containers`` (loaded by the root
conftest): one PostgreSQL and one Redis for the whole session. Isolation is per test:

* **PostgreSQL**: once per session, a template database is migrated to head with Alembic
  (``reference_app.migrate.upgrade``). Every test that asks for ``pg`` gets its own database,
  ``CREATE DATABASE ... TEMPLATE`` (a file copy, ~0.1 s), dropped afterwards. Nothing is rolled
  back behind the app's back: the app commits for real, as it does in production.
* **Redis**: every test that asks for ``redis_db`` gets logical database ``REDIS_DB``, flushed
  before and after. Tests run one at a time, so one index is enough.

Fault-injection tests reach the containers through the Docker SDK (pause/unpause); a test that
restarts PostgreSQL gets a container of its own (see ``test_faults_postgres.py``), because Docker
gives a restarted container new ephemeral host ports and the session URL would go stale; so does a test
that restarts Redis (``own_redis``, on a fixed port and without persistence).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from harness.server import free_port
from reference_app.core.config import Settings
from reference_app.main import create_app
from tests.integration.support import (
    PgDb,
    PgServer,
    RedisDb,
    container_by_host_port,
    run_async,
    server_env,
)
from tests.utils.app_fixtures import build_test_settings
from tests.utils.containers import DATABASE_URL_ENV, REDIS_URL_ENV, started_container, stop_container, unavailable

REDIS_DB = 3


# ---- PostgreSQL -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(postgres_url: str) -> Iterator[PgServer]:
    """The session's PostgreSQL with a migrated template database."""
    server = PgServer.from_url(postgres_url, owned=not os.environ.get(DATABASE_URL_ENV, "").strip())
    try:
        run_async(server.prepare)
    except (OSError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at {server.host}:{server.port} did not answer ({type(exc).__name__}: {exc})")
    try:
        yield server
    finally:
        run_async(server.cleanup)


@pytest.fixture
def pg(pg_server: PgServer) -> Iterator[PgDb]:
    """A fresh database at Alembic head, for this test only."""
    db = run_async(pg_server.create_database)
    try:
        yield db
    finally:
        run_async(pg_server.drop_database, db.name)


@pytest.fixture
def pg_empty(pg_server: PgServer) -> Iterator[PgDb]:
    """A fresh, empty database (no schema), for migration tests and servers that migrate themselves."""
    db = run_async(pg_server.create_database, None)
    try:
        yield db
    finally:
        run_async(pg_server.drop_database, db.name)


# ---- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[RedisDb]:
    """Logical database ``REDIS_DB`` of the session's Redis, empty at the start of the test."""
    db = RedisDb.from_url(redis_url, REDIS_DB)
    try:
        db.client.flushdb()
    except redis.RedisError as exc:
        db.client.close()
        unavailable(f"Redis at {db.url} did not answer ({type(exc).__name__}: {exc})")
    try:
        yield db
    finally:
        try:
            db.client.flushdb()
        finally:
            db.client.close()


# ---- the containers themselves (fault injection) --------------------------------------------------


def _container(url_env: str, port: int, role: str) -> Any:
    if os.environ.get(url_env, "").strip():
        pytest.skip(f"{role} fault injection needs a container this suite started ({url_env} is set)")
    container = container_by_host_port(port)
    if container is None:  # we started it, so not finding it is a bug, not an environment problem
        pytest.fail(f"no running container publishes {role}'s port {port}")
    return container


@pytest.fixture(scope="module")
def own_redis(redis_url: str) -> Iterator[tuple[Any, RedisDb]]:
    """A Redis container of the module's own, for tests that restart Redis: published on a fixed host
    port (Docker gives a restarted container new ephemeral ports, which would strand the session's URL)
    and without persistence (``--save '' --appendonly no``), so a restart loses everything it held: the
    worst case a restart can be, which is what the recovery it tests must survive."""
    if os.environ.get(REDIS_URL_ENV, "").strip():
        pytest.skip(f"restarting Redis needs a container this suite started ({REDIS_URL_ENV} is set)")
    from testcontainers.community.redis import RedisContainer

    from harness.containers.images import redis_image

    port = free_port()

    def make() -> Any:
        return (RedisContainer(redis_image().requested).with_bind_ports(6379, port)
                .with_command("redis-server --save '' --appendonly no"))

    container = started_container("Redis (own, restartable)", REDIS_URL_ENV, make)
    db = RedisDb.from_url(f"redis://{container.get_container_host_ip()}:{port}/0", 0)
    try:
        yield container.get_wrapped_container(), db
    finally:
        db.client.close()
        stop_container(container)


@pytest.fixture
def redis_container(redis_db: RedisDb) -> Any:
    """The Docker SDK container behind the session's Redis."""
    return _container(REDIS_URL_ENV, redis_db.port, "Redis")


@pytest.fixture
def pg_container(pg_server: PgServer) -> Any:
    """The Docker SDK container behind the session's PostgreSQL."""
    return _container(DATABASE_URL_ENV, pg_server.port, "PostgreSQL")


# ---- the app, in process --------------------------------------------------------------------------


#: Timeouts of the in-process app towards the real backends, for every test that does not set its
#: own: generous, because the app runs under coverage on a shared 2-core machine and a test that is
#: not about timeouts must not see a 503 (or a silent cache miss, or a fail-open admission) because one
#: call took 700 ms. The production defaults (0.5 s Redis, 5 s statements) are for production. The
#: fault tests set their own, against a fault that outlasts them many times (a held lock, a pause).
GENEROUS_BACKEND_TIMEOUTS: dict[str, Any] = {
    "redis_timeout_s": 5.0,
    "db_pool_timeout_s": 30.0,
    "db_statement_timeout_ms": 60_000,
}


@pytest.fixture
def pg_settings(tmp_path: Path) -> Callable[..., Settings]:
    """``pg_settings(db, redis=None, **overrides)``: test settings pointing at real backends."""

    def factory(db: PgDb | None, redis_db: RedisDb | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = dict(GENEROUS_BACKEND_TIMEOUTS)
        if db is not None:
            values["database_url"] = db.url
        if redis_db is not None:
            values["redis_url"] = redis_db.url
        return build_test_settings(tmp_path, **(values | overrides))

    return factory


@pytest.fixture
def app_client() -> Callable[..., Any]:
    """``async with app_client(settings) as (app, client)``: the app's lifespan runs around the block.

    ``raise_app_exceptions=False`` lets a test see the 500 a real server would send, instead of the
    exception that ASGITransport re-raises by default.
    """

    @asynccontextmanager
    async def cm(settings: Settings, *, raise_app_exceptions: bool = True
                 ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711),
                                            raise_app_exceptions=raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
                yield app, client

    return cm


# ---- the app as a real process --------------------------------------------------------------------


@pytest.fixture
def live_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """``live_env(db, redis=None, **REFAPP_overrides)``: the environment of a server process."""

    def factory(db: PgDb, redis_db: RedisDb | None = None, **overrides: str) -> dict[str, str]:
        return server_env(tmp_path, db, redis_db, **overrides)

    return factory


@pytest.fixture
def unique() -> Callable[[str], str]:
    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
