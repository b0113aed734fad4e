"""Background jobs: recorded in the request, run after the response on a session of their own.

The request's session is closed by the time a ``BackgroundTasks`` callable runs, so the runner
takes the app's sessionmaker and opens (and closes) its own.

The job registry is bounded per owner: creating a job forgets the owner's oldest *finished* jobs
past ``MAX_FINISHED_PER_OWNER`` (pending and running ones are never dropped under their runner).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reference_app.core.context import request_id_var
from reference_app.core.errors import NotFound
from reference_app.core.telemetry import Metrics
from reference_app.models import AuditEvent, Item, Job, JobStatus, User
from reference_app.schemas.jobs import ItemReport, JobKind

log = logging.getLogger("refapp.jobs")

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_FINISHED_PER_OWNER = 100
FINISHED = (JobStatus.DONE.value, JobStatus.FAILED.value)
CENTS = Decimal("0.01")


async def prune_finished(session: AsyncSession, owner_id: int, keep: int = MAX_FINISHED_PER_OWNER) -> None:
    """Delete the owner's finished jobs beyond the ``keep`` most recent."""
    stale = (select(Job.id).where(Job.owner_id == owner_id, Job.status.in_(FINISHED))
             .order_by(Job.created_at.desc(), Job.id.desc()).offset(keep))
    await session.execute(delete(Job).where(Job.id.in_(stale)))


async def create_job(session: AsyncSession, owner: User, kind: JobKind, *,
                     keep_finished: int = MAX_FINISHED_PER_OWNER) -> Job:
    await prune_finished(session, owner.id, keep_finished)
    job = Job(owner_id=owner.id, kind=kind, status=JobStatus.PENDING.value)
    session.add(job)
    await session.flush()  # assigns the id the audit row refers to
    session.add(AuditEvent(actor_id=owner.id, action="job.create", target=f"job:{job.id}",
                           request_id=request_id_var.get()))
    await session.commit()
    return job


async def get_owned(session: AsyncSession, owner: User, job_id: str) -> Job:
    if not JOB_ID.match(job_id):
        raise NotFound("Job not found.")
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.owner_id == owner.id))
    if job is None:
        raise NotFound("Job not found.")
    return job


async def item_report(session: AsyncSession, owner_id: int) -> ItemReport:
    count, total = (await session.execute(
        select(func.count(Item.id), func.coalesce(func.sum(Item.price), 0)).where(Item.owner_id == owner_id)
    )).one()
    rows = await session.execute(
        select(Item.category, func.count(Item.id)).where(Item.owner_id == owner_id)
        .group_by(Item.category).order_by(Item.category)
    )
    by_category = {str(category): int(n) for category, n in rows}
    # str() first: SQLite may hand back a float, and Decimal(float) would carry its binary error.
    total_value = Decimal(str(total)).quantize(CENTS)
    return ItemReport(count=count, total_value=f"{total_value:.2f}", by_category=by_category)




async def completions(session: AsyncSession, job_id: str) -> int:
    """How many times the job's outcome was recorded: 1 once finished, never more (the audit log says)."""
    n = await session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.target == f"job:{job_id}", AuditEvent.action.in_([f"job.{s}" for s in FINISHED])))
    return int(n or 0)


async def run_job(
    maker: async_sessionmaker[AsyncSession], job_id: str, metrics: Metrics | None, request_id: str | None,
    work_s: float = 0.0,
) -> bool:
    """Run the job once; ``True`` if this call recorded its outcome.

    Idempotent, because a queue delivers at least once (a Celery worker killed mid-job gets the job
    again): the job row is the source of truth, a finished job is left alone, and the outcome is written
    by a conditional UPDATE, so of two copies running at once only the first to finish takes effect.
    Never raises: a background failure is recorded on the job, not thrown at the server.
    """
    token = request_id_var.set(request_id)
    outcome: JobStatus | None = None
    try:
        async with maker() as session:
            job = await session.get(Job, job_id)
            if job is None:
                log.warning("job vanished before it ran", extra={"job_id": job_id})
                return False
            if job.status in FINISHED:
                log.info("job already finished; a redelivery changes nothing", extra={"job_id": job_id})
                return False
            owner_id, kind = job.owner_id, job.kind
            job.status = JobStatus.RUNNING.value
            await session.commit()
            if work_s > 0:
                await asyncio.sleep(work_s)
            result: dict[str, object] | None = None
            status = JobStatus.FAILED
            try:
                result = (await item_report(session, owner_id)).model_dump()
                status = JobStatus.DONE
            except Exception:
                log.exception("job failed", extra={"job_id": job_id, "kind": kind})
                await session.rollback()
            recorded = await session.execute(
                update(Job).where(Job.id == job_id, Job.status.not_in(FINISHED)).values(
                    status=status.value, result=result, finished_at=datetime.now(UTC),
                    # The exception text can hold SQL or paths; the owner gets a fixed message.
                    error=None if result is not None else f"The job failed (request id {request_id or 'n/a'})."))
            if getattr(recorded, "rowcount", 0) != 1:
                await session.rollback()
                log.info("another run of the job finished first", extra={"job_id": job_id})
                return False
            session.add(AuditEvent(actor_id=owner_id, action=f"job.{status.value}", target=f"job:{job_id}",
                                   request_id=request_id))
            await session.commit()
            outcome = status
            return True
    except Exception:
        log.exception("job bookkeeping failed", extra={"job_id": job_id})
        return False
    finally:
        if metrics is not None and outcome is not None:
            metrics.jobs.labels(outcome.value).inc()
        request_id_var.reset(token)
