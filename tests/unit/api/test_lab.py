"""Lab endpoints for load profiles: bounded sleeps, CPU work, the limited/unlimited twins, config."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reference_app.main import create_app

LAB = "/api/v1/lab"


async def test_hello(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{LAB}/hello")
    assert r.status_code == 200
    assert r.json() == {"message": "hello"}


@pytest.mark.parametrize(("path", "mode"), [("io-sync", "sync"), ("io-async", "async")])
async def test_io_endpoints_report_their_mode(client: httpx.AsyncClient, path: str, mode: str) -> None:
    r = await client.get(f"{LAB}/{path}", params={"ms": 5})
    assert r.status_code == 200
    assert r.json() == {"slept_ms": 5, "mode": mode}


@pytest.mark.parametrize("path", ["io-sync", "io-async"])
async def test_io_default_is_50ms(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(f"{LAB}/{path}")).json()["slept_ms"] == 50


@pytest.mark.parametrize("path", ["io-sync", "io-async"])
@pytest.mark.parametrize("ms", [-1, 2001, "soon"])
async def test_io_ms_is_bounded(client: httpx.AsyncClient, path: str, ms: object) -> None:
    r = await client.get(f"{LAB}/{path}", params={"ms": ms})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "ms"]


async def test_cpu_computes_the_chained_digest(client: httpx.AsyncClient) -> None:
    digest = b"refapp"
    for _ in range(3):
        digest = hashlib.sha256(digest).digest()
    r = await client.get(f"{LAB}/cpu", params={"n": 3})
    assert r.json() == {"rounds": 3, "digest": digest.hex()}


@pytest.mark.parametrize("n", [0, 100_001])
async def test_cpu_n_is_bounded(client: httpx.AsyncClient, n: int) -> None:
    assert (await client.get(f"{LAB}/cpu", params={"n": n})).status_code == 422


async def test_limited_carries_rate_limit_headers_unlimited_does_not(client: httpx.AsyncClient) -> None:
    limited = await client.get(f"{LAB}/limited")
    unlimited = await client.get(f"{LAB}/unlimited")
    assert limited.json() == unlimited.json() == {"message": "hello"}
    assert limited.headers["x-ratelimit-limit"] == "1000"
    assert limited.headers["x-ratelimit-remaining"] == "999"
    assert "x-ratelimit-limit" not in unlimited.headers


async def test_limited_returns_429_when_exhausted(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(lab_limit="2/minute"))
    async with client_for(app) as c:
        codes = [(await c.get(f"{LAB}/limited")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await c.get(f"{LAB}/unlimited")).status_code == 200


async def test_config_reports_the_running_setup(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(lab_limit="7/minute", threadpool_size=13, middleware="bare"))
    async with client_for(app) as c:
        r = await c.get(f"{LAB}/config")
    assert r.json() == {
        "threadpool_size": 13,
        "lab_limit": {"amount": 7, "per_seconds": 60},
        "rate_limit_enabled": True,
        "cache_backend": "memory",
        "limiter_backend": "memory",
        "db_backend": "sqlite",
        "middleware": "bare",
    }


async def test_threadpool_size_is_applied_by_the_lifespan(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    import anyio.to_thread

    app = create_app(make_settings(threadpool_size=7))
    async with client_for(app):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 7
