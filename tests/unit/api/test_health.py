"""Liveness and readiness: ready is 503 when the database, cache or limiter storage is down."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine


async def test_live(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/live")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_when_everything_answers(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "rate_limiter": "ok"}}


async def test_ready_is_503_when_the_database_is_unreachable(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/nope.db")
    original, app.state.engine = app.state.engine, broken
    try:
        r = await client.get("/health/ready")
    finally:
        app.state.engine = original
        await broken.dispose()
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable",
                        "checks": {"database": "failed", "cache": "ok", "rate_limiter": "ok"}}
    assert (await client.get("/health/ready")).status_code == 200  # and recovers with the engine


async def test_ready_is_503_when_the_cache_is_down(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down() -> bool:
        return False

    monkeypatch.setattr(app.state.cache, "ping", down)
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "cache": "failed", "rate_limiter": "ok"}


async def test_ready_is_503_when_a_check_raises(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom() -> bool:
        raise ConnectionError("limiter storage gone")

    monkeypatch.setattr(app.state.limiter.storage, "check", boom)
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["rate_limiter"] == "failed"


async def test_health_needs_no_auth_and_is_not_rate_limited(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/live")
    assert "x-ratelimit-limit" not in r.headers
