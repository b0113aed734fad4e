"""Background jobs: 202 + Location, run on their own session, owner-scoped reads."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reference_app.models import AuditEvent
from reference_app.services import jobs as job_service
from tests.utils.app_fixtures import metric_value
from tests.utils.factories import UserHandle, create_item


async def add_items(client: httpx.AsyncClient, user: UserHandle, *items: tuple[str, str, float]) -> None:
    for name, category, price in items:
        await create_item(client, user, name=name, category=category, price=price)


async def wait_finished(client: httpx.AsyncClient, user: UserHandle, location: str) -> dict[str, Any]:
    with anyio.fail_after(30):  # bounded polling; a hang guard, generous for a loaded CI machine
        while True:
            response = await client.get(location, headers=user.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("done", "failed"):
                return body
            await anyio.sleep(0.01)


async def test_item_report_job(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle,
                               app: FastAPI) -> None:
    await add_items(client, user, ("a", "tools", 10.10), ("b", "tools", 0.20), ("c", "garden", 5.00))
    await add_items(client, other_user, ("not-mine", "tools", 999))
    response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["kind"] == "item_report"
    assert body["status"] == "pending"
    assert response.headers["location"] == f"/api/v1/jobs/{body['id']}"

    job = await wait_finished(client, user, response.headers["location"])
    assert job["status"] == "done"
    assert job["error"] is None
    assert job["finished_at"] is not None
    assert job["result"] == {"count": 3, "total_value": "15.30", "by_category": {"garden": 1, "tools": 2}}
    assert metric_value(app, "background_jobs_total", outcome="accepted") == 1
    assert metric_value(app, "background_jobs_total", outcome="done") == 1

    async with app.state.sessionmaker() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"job:{job['id']}")))
    assert sorted(actions) == ["job.create", "job.done"]


async def test_report_of_no_items(client: httpx.AsyncClient, user: UserHandle) -> None:
    response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
    job = await wait_finished(client, user, response.headers["location"])
    assert job["result"] == {"count": 0, "total_value": "0.00", "by_category": {}}


async def test_failed_job_records_a_fixed_error(
    client: httpx.AsyncClient, user: UserHandle, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")  # must not reach the client

    monkeypatch.setattr(job_service, "item_report", broken)
    response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
    job = await wait_finished(client, user, response.headers["location"])
    assert job["status"] == "failed"
    assert job["result"] is None
    assert "secret" not in job["error"]
    assert metric_value(app, "background_jobs_total", outcome="failed") == 1


async def test_other_users_job_is_404(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
    location = response.headers["location"]
    other = await client.get(location, headers=other_user.headers)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert (await client.get(location, headers=user.headers)).status_code == 200


@pytest.mark.parametrize("job_id", ["0" * 32, "..%2F..%2Fetc", "NOT-HEX" * 5])
async def test_unknown_or_malformed_job_id_is_404(
    client: httpx.AsyncClient, user: UserHandle, job_id: str
) -> None:
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=user.headers)).status_code == 404


@pytest.mark.parametrize("payload", [{"kind": "nope"}, {}, {"kind": "item_report", "owner_id": 1}])
async def test_create_job_validation(client: httpx.AsyncClient, user: UserHandle, payload: dict[str, Any]) -> None:
    response = await client.post("/api/v1/jobs", headers=user.headers, json=payload)
    assert response.status_code == 422


async def test_jobs_require_auth(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/jobs", json={"kind": "item_report"})).status_code == 401
    assert (await client.get("/api/v1/jobs/" + "0" * 32)).status_code == 401
