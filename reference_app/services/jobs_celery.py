"""Jobs on a Celery worker (``REFAPP_JOBS_BACKEND=celery``): the queue, its task, and how to enqueue.

The broker is Redis when ``REFAPP_REDIS_URL`` is set (also the result backend), else kombu's SQLAlchemy
transport on a SQLite file, which needs no server. ``acks_late`` + ``task_reject_on_worker_lost``: a job
is acknowledged only once it ran, so a worker killed mid-job leaves it on the queue for the next worker;
that means at-least-once delivery, which ``jobs.run_job`` makes harmless (the job row decides).
The worker process is ``celery -A reference_app.worker worker`` (reference_app/worker.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from celery import Celery

from reference_app.core.config import Settings
from reference_app.core.db import build_engine, build_sessionmaker
from reference_app.services import jobs
from reference_app.services.jobs_recovery import is_redis, recovery_step

TASK_NAME = "refapp.jobs.run"


def create_celery(settings: Settings) -> Celery:
    broker = settings.broker_url
    if broker.startswith("sqla+sqlite:///"):
        Path(broker.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app = Celery("refapp", broker=broker, backend=settings.redis_url or None, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One job at a time per worker slot: a prefetched job would wait behind a long one.
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Task events: what Flower shows (over Redis; the SQLAlchemy transport has no cross-process fanout).
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    if not broker.startswith("sqla+"):
        # Redis: an unacknowledged job is redelivered after this. (The SQLAlchemy transport hands every
        # transport option to create_engine, so it gets none; it polls an empty queue once a second.)
        # kombu scans for such jobs only every interval x throttle (100 s by default): once per interval here.
        timeout = settings.jobs_visibility_timeout_s
        app.conf.broker_transport_options = {
            "visibility_timeout": timeout, "unacked_restore_interval": min(10, timeout), "unacked_restore_throttle": 1}

    if is_redis(broker) and settings.jobs_recovery_interval_s > 0:
        # The broker can lose its queue (a restart without persistence): the worker republishes from the rows.
        app.steps["worker"].add(recovery_step(settings, lambda job_id: enqueue(app, job_id, None)))

    # shared=False: the task belongs to this app only (a shared task would join every app made later).
    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, shared=False)  # type: ignore[untyped-decorator]  # Celery ships no types
    def run(job_id: str, request_id: str | None = None) -> bool:
        return asyncio.run(_run(settings, job_id, request_id))

    return app


async def _run(settings: Settings, job_id: str, request_id: str | None) -> bool:
    # An engine per task: asyncio.run gives every task its own loop, and connections are bound to one.
    engine = build_engine(settings)
    try:
        return await jobs.run_job(build_sessionmaker(engine), job_id, None, request_id, settings.jobs_work_ms / 1000)
    finally:
        await engine.dispose()


def enqueue(app: Celery, job_id: str, request_id: str | None) -> None:
    """Publish the job (blocking broker I/O: call it from a thread)."""
    app.send_task(TASK_NAME, args=[job_id, request_id])
