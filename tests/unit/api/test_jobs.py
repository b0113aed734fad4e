"""Background jobs: 202 + Location, run on their own session, owner-scoped reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reference_app.core.config import Settings
from reference_app.main import create_app
from reference_app.models import AuditEvent
from reference_app.services import jobs as job_service

# ---- local fixtures: to be hoisted into tests/conftest.py + tests/utils/ -----------------------

PASSWORD = "correct horse battery"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test", "database_url": "sqlite+aiosqlite:///:memory:", "storage_dir": str(tmp_path / "files"),
        "rate_limit_enabled": False, "access_log": False, "argon2_time_cost": 1, "argon2_memory_cost_kib": 1024,
    }
    return Settings(**(values | overrides))


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[FastAPI]]]:
    """Build an app with overridden settings and run its lifespan for the test's duration."""
    exits: list[Any] = []

    async def build(**overrides: Any) -> FastAPI:
        app = create_app(make_settings(tmp_path, **overrides))
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        exits.append(ctx)
        return app

    yield build
    for ctx in reversed(exits):
        await ctx.__aexit__(None, None, None)


@pytest.fixture
async def app(app_factory: Callable[..., Awaitable[FastAPI]]) -> FastAPI:
    return await app_factory()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def signup(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Register through the API and return bearer headers for the new user."""
    created = await client.post("/api/v1/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await signup(client, "alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, str]:
    return await signup(client, "bob@example.com")

# ---- end of local fixtures ---------------------------------------------------------------------


async def add_items(client: httpx.AsyncClient, headers: dict[str, str], *items: tuple[str, str, float]) -> None:
    for name, category, price in items:
        response = await client.post("/api/v1/items", headers=headers,
                                     json={"name": name, "category": category, "price": price})
        assert response.status_code == 201, response.text


async def wait_finished(client: httpx.AsyncClient, headers: dict[str, str], location: str) -> dict[str, Any]:
    with anyio.fail_after(5):
        while True:
            response = await client.get(location, headers=headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("done", "failed"):
                return body
            await anyio.sleep(0.01)


def metric(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


async def test_item_report_job(client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str],
                               app: FastAPI) -> None:
    await add_items(client, alice, ("a", "tools", 10.10), ("b", "tools", 0.20), ("c", "garden", 5.00))
    await add_items(client, bob, ("not-mine", "tools", 999))
    response = await client.post("/api/v1/jobs", headers=alice, json={"kind": "item_report"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["kind"] == "item_report"
    assert body["status"] == "pending"
    assert response.headers["location"] == f"/api/v1/jobs/{body['id']}"

    job = await wait_finished(client, alice, response.headers["location"])
    assert job["status"] == "done"
    assert job["error"] is None
    assert job["finished_at"] is not None
    assert job["result"] == {"count": 3, "total_value": "15.30", "by_category": {"garden": 1, "tools": 2}}
    assert metric(app, "background_jobs_total", outcome="accepted") == 1
    assert metric(app, "background_jobs_total", outcome="done") == 1

    async with app.state.sessionmaker() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"job:{job['id']}")))
    assert sorted(actions) == ["job.create", "job.done"]


async def test_report_of_no_items(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    response = await client.post("/api/v1/jobs", headers=alice, json={"kind": "item_report"})
    job = await wait_finished(client, alice, response.headers["location"])
    assert job["result"] == {"count": 0, "total_value": "0.00", "by_category": {}}


async def test_failed_job_records_a_fixed_error(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")  # must not reach the client

    monkeypatch.setattr(job_service, "item_report", broken)
    response = await client.post("/api/v1/jobs", headers=alice, json={"kind": "item_report"})
    job = await wait_finished(client, alice, response.headers["location"])
    assert job["status"] == "failed"
    assert job["result"] is None
    assert "secret" not in job["error"]
    assert metric(app, "background_jobs_total", outcome="failed") == 1


async def test_other_users_job_is_404(client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    response = await client.post("/api/v1/jobs", headers=alice, json={"kind": "item_report"})
    location = response.headers["location"]
    other = await client.get(location, headers=bob)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert (await client.get(location, headers=alice)).status_code == 200


@pytest.mark.parametrize("job_id", ["0" * 32, "..%2F..%2Fetc", "NOT-HEX" * 5])
async def test_unknown_or_malformed_job_id_is_404(
    client: httpx.AsyncClient, alice: dict[str, str], job_id: str
) -> None:
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=alice)).status_code == 404


@pytest.mark.parametrize("payload", [{"kind": "nope"}, {}, {"kind": "item_report", "owner_id": 1}])
async def test_create_job_validation(client: httpx.AsyncClient, alice: dict[str, str], payload: dict[str, Any]) -> None:
    response = await client.post("/api/v1/jobs", headers=alice, json=payload)
    assert response.status_code == 422


async def test_jobs_require_auth(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/jobs", json={"kind": "item_report"})).status_code == 401
    assert (await client.get("/api/v1/jobs/" + "0" * 32)).status_code == 401
