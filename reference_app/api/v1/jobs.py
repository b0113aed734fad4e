"""Background jobs: accepted with 202, polled by id."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from starlette.concurrency import run_in_threadpool

from reference_app.core.context import request_id_var
from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser
from reference_app.core.errors import problem_responses
from reference_app.core.telemetry import Metrics
from reference_app.schemas.jobs import JobAccepted, JobCreate, JobPublic
from reference_app.services import jobs as service
from reference_app.services import jobs_celery

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
    job = await service.create_job(session, user, body.kind,
                                   keep_finished=request.app.state.settings.jobs_keep_finished)
    metrics: Metrics | None = request.app.state.metrics
    if metrics is not None:
        metrics.jobs.labels("accepted").inc()
    celery = request.app.state.celery
    if celery is not None:
        # Committed before it is published: the worker must find the row (create_job commits).
        await run_in_threadpool(jobs_celery.enqueue, celery, job.id, request_id_var.get())
    else:
        # The app's sessionmaker, not `session`: that one is closed before background tasks run.
        maker = request.app.state.sessionmaker
        background.add_task(service.run_job, maker, job.id, metrics, request_id_var.get(),
                            request.app.state.settings.jobs_work_ms / 1000)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted.model_validate(job)


@router.get(
    "/{job_id}", operation_id="jobs_read", response_model=JobPublic,
    responses=problem_responses(401, 403, 404),
)
async def read_job(job_id: str, user: CurrentUser, session: SessionDep) -> JobPublic:
    job = JobPublic.model_validate(await service.get_owned(session, user, job_id))
    return job.model_copy(update={"completions": await service.completions(session, job_id)})
