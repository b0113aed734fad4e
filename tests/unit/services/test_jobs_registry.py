"""The job registry is bounded per owner: the oldest finished jobs go, pending ones never."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from reference_app.models import Job, JobStatus, User
from reference_app.schemas.jobs import JobKind
from reference_app.services import jobs
from tests.utils.factories import UserHandle


async def _counts(app: FastAPI, owner_id: int) -> dict[str, int]:
    async with app.state.sessionmaker() as s:
        rows = await s.execute(select(Job.status, func.count()).where(Job.owner_id == owner_id).group_by(Job.status))
        return {str(status): int(n) for status, n in rows}


async def test_finished_jobs_past_the_bound_are_forgotten_oldest_first(
        app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    kind: JobKind = "item_report"
    first_id = None
    for _ in range(30):  # 3x the bound
        async with app.state.sessionmaker() as s:
            owner = await s.get_one(User, user.id)
            job = await jobs.create_job(s, owner, kind, keep_finished=10)
            first_id = first_id or job.id
            await s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.DONE.value))
            await s.commit()
        assert sum((await _counts(app, user.id)).values()) <= 11  # 10 kept + the one just made
    async with app.state.sessionmaker() as s:
        assert await s.get(Job, first_id) is None
        owner = await s.get_one(User, user.id)
        pending = await jobs.create_job(s, owner, kind, keep_finished=0)  # keeps no finished job at all
    counts = await _counts(app, user.id)
    assert counts == {JobStatus.PENDING.value: 1}
    async with app.state.sessionmaker() as s:
        owner = await s.get_one(User, user.id)
        await jobs.create_job(s, owner, kind, keep_finished=0)
    assert (await _counts(app, user.id))[JobStatus.PENDING.value] == 2  # pending jobs are never dropped
    assert pending.id
