"""Engine construction per backend, SQLite pragmas, and the session dependency's error mapping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from reference_app.core.db import SessionDep, build_engine
from reference_app.main import create_app
from reference_app.models import UTCDateTime


async def test_memory_sqlite_shares_one_connection(make_settings: Callable[..., Any]) -> None:
    engine = build_engine(make_settings())
    try:
        assert isinstance(engine.pool, StaticPool)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as conn:  # a second connection sees the same database
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_file_sqlite_gets_pragmas(make_settings: Callable[..., Any], tmp_path: Path) -> None:
    engine = build_engine(make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db"))
    try:
        assert not isinstance(engine.pool, StaticPool)
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await engine.dispose()


async def test_postgres_engine_uses_the_pool_settings(make_settings: Callable[..., Any]) -> None:
    # Built, never connected: nothing listens there.
    engine = build_engine(make_settings(database_url="postgresql+asyncpg://u:p@127.0.0.1:1/db", db_pool_size=7,
                                        db_max_overflow=3, db_pool_timeout_s=2.5))
    try:
        pool: Any = engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (7, 3, 2.5, 1800)
        assert engine.dialect.name == "postgresql"
    finally:
        await engine.dispose()


async def test_pool_timeout_becomes_503(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings())

    @app.get("/test-only/busy")
    async def busy(session: SessionDep) -> None:
        raise PoolTimeoutError("QueuePool limit reached")

    async with client_for(app) as c:
        r = await c.get("/test-only/busy")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"


async def test_session_is_rolled_back_on_error(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings())

    @app.post("/test-only/half-write")
    async def half_write(session: SessionDep) -> None:
        await session.execute(text("INSERT INTO audit_events (action, target, created_at) "
                                   "VALUES ('x', 'y', '2026-01-01 00:00:00')"))
        raise ValueError("after a write, before the commit")

    @app.get("/test-only/count")
    async def count(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT count(*) FROM audit_events"))).scalar() or 0)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.post("/test-only/half-write")).status_code == 500
            assert (await c.get("/test-only/count")).json() == 0


def test_utc_datetime_refuses_naive_values() -> None:
    from sqlalchemy.dialects import sqlite

    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())


def test_utc_datetime_reads_naive_as_utc() -> None:
    from sqlalchemy.dialects import sqlite

    value = UTCDateTime().process_result_value(datetime(2026, 1, 1, 12), sqlite.dialect())
    assert value is not None
    assert value.utcoffset() is not None
    assert value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert UTCDateTime().process_result_value(None, sqlite.dialect()) is None
