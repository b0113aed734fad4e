"""The jobs backends: BackgroundTasks by default, a real Celery worker with ``REFAPP_JOBS_BACKEND=celery``,
and job bodies that take effect once however often a queue delivers them.

The Celery tests publish through the real broker (kombu's SQLAlchemy transport on a SQLite file, the
embedded default) to a real worker consuming in a thread (``celery.contrib.testing.worker``); only the
process boundary is missing, and tests/integration/test_jobs_celery.py covers that one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI
from sqlalchemy import select, update

from reference_app.core.config import Settings
from reference_app.main import create_app
from reference_app.models import AuditEvent, Job, JobStatus
from reference_app.services import jobs as job_service
from reference_app.services.jobs_celery import TASK_NAME, create_celery
from tests.utils.app_fixtures import build_test_settings, open_client
from tests.utils.factories import UserHandle, create_user


def file_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # A file, not :memory:: the worker opens its own engine on the same database, as in production.
    return build_test_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/jobs.db", **overrides)


@pytest.fixture
def celery_app(tmp_path: Path) -> FastAPI:
    return create_app(file_settings(tmp_path, jobs_backend="celery"))


async def finished(client: httpx.AsyncClient, user: UserHandle, location: str) -> dict[str, Any]:
    with anyio.fail_after(60):  # a hang guard for a busy machine, not a timing assertion
        while True:
            body: dict[str, Any] = (await client.get(location, headers=user.headers)).json()
            if body["status"] in ("done", "failed"):
                return body
            await anyio.sleep(0.05)


async def done_events(app: FastAPI, job_id: str) -> int:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(AuditEvent.id).where(
            AuditEvent.target == f"job:{job_id}", AuditEvent.action == "job.done"))
        return len(list(rows))


def test_background_is_the_default(settings: Settings, app: FastAPI) -> None:
    assert settings.jobs_backend == "background"
    assert app.state.celery is None


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, "sqla+sqlite:///{tmp}/files/celery-broker.sqlite"),
    ({"redis_url": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0"),
    ({"redis_url": "redis://r:6379/0", "jobs_broker_url": "redis://b:6379/1"}, "redis://b:6379/1"),
])
def test_broker_url(tmp_path: Path, overrides: dict[str, str], expected: str) -> None:
    assert build_test_settings(tmp_path, **overrides).broker_url == expected.format(tmp=tmp_path)


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="jobs_backend"):
        build_test_settings(tmp_path, jobs_backend="threads")


def test_a_job_survives_its_worker_by_configuration(tmp_path: Path) -> None:
    """acks_late + reject_on_worker_lost: the message stays queued until the job ran."""
    app = create_celery(file_settings(tmp_path))
    task = app.tasks[TASK_NAME]
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


async def test_celery_backend_runs_the_job_on_a_worker(celery_app: FastAPI) -> None:
    async for client in open_client(celery_app):
        user = await create_user(client)
        response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
        assert response.status_code == 202, response.text
        await anyio.sleep(0.3)
        # No worker yet: the job waits on the queue, it is not run in-process.
        pending = (await client.get(response.headers["location"], headers=user.headers)).json()
        assert pending["status"] == "pending"
        with start_worker(celery_app.state.celery, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            job = await finished(client, user, response.headers["location"])
        assert job["status"] == "done"
        assert job["result"] == {"count": 0, "total_value": "0.00", "by_category": {}}
        assert job["completions"] == 1


async def _new_job(app: FastAPI, client: httpx.AsyncClient) -> tuple[UserHandle, str]:
    user = await create_user(client)
    async with app.state.sessionmaker() as session:
        job = Job(owner_id=user.id, kind="item_report", status=JobStatus.PENDING.value)
        session.add(job)
        await session.commit()
        return user, job.id


async def test_a_redelivered_job_takes_effect_once(tmp_path: Path) -> None:
    app = create_app(file_settings(tmp_path))
    async for client in open_client(app):
        _, job_id = await _new_job(app, client)
        maker = app.state.sessionmaker
        assert await job_service.run_job(maker, job_id, None, None) is True
        assert await job_service.run_job(maker, job_id, None, None) is False  # the redelivery
        assert await done_events(app, job_id) == 1


async def test_a_job_whose_worker_died_mid_job_is_finished_by_the_next(tmp_path: Path) -> None:
    app = create_app(file_settings(tmp_path))
    async for client in open_client(app):
        user, job_id = await _new_job(app, client)
        async with app.state.sessionmaker() as session:  # what a worker killed after starting leaves
            await session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.RUNNING.value))
            await session.commit()
        assert await job_service.run_job(app.state.sessionmaker, job_id, None, None) is True
        body = (await client.get(f"/api/v1/jobs/{job_id}", headers=user.headers)).json()
        assert (body["status"], body["completions"]) == ("done", 1)


async def test_two_copies_at_once_record_one_outcome(tmp_path: Path) -> None:
    app = create_app(file_settings(tmp_path))
    async for client in open_client(app):
        _, job_id = await _new_job(app, client)
        maker = app.state.sessionmaker
        results = await asyncio.gather(*(job_service.run_job(maker, job_id, None, None) for _ in range(3)))
        assert sorted(results) == [False, False, True]
        assert await done_events(app, job_id) == 1
