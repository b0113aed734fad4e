"""Background jobs: accepted with 202, polled by id."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from reference_app.core.context import request_id_var
from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser
from reference_app.core.errors import problem_responses
from reference_app.core.telemetry import Metrics
from reference_app.schemas.jobs import JobAccepted, JobCreate, JobPublic
from reference_app.services import jobs as service

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post(
    "", operation_id="jobs_create", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted,
    responses=problem_responses(401, 403, 422),
)
async def create_job(
    body: JobCreate, request: Request, response: Response, background: BackgroundTasks,
    user: CurrentUser, session: SessionDep,
) -> JobAccepted:
    """Start a job; poll the `Location` until its status is `done` or `failed`."""
    job = await service.create_job(session, user, body.kind)
    metrics: Metrics | None = request.app.state.metrics
    if metrics is not None:
        metrics.jobs.labels("accepted").inc()
    # The app's sessionmaker, not `session`: that one is closed before background tasks run.
    maker = request.app.state.sessionmaker
    background.add_task(service.run_job, maker, job.id, metrics, request_id_var.get())
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted.model_validate(job)


@router.get(
    "/{job_id}", operation_id="jobs_read", response_model=JobPublic,
    responses=problem_responses(401, 403, 404),
)
async def read_job(job_id: str, user: CurrentUser, session: SessionDep) -> JobPublic:
    return JobPublic.model_validate(await service.get_owned(session, user, job_id))
