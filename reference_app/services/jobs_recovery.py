"""Recovering jobs whose messages a Redis broker lost: the job rows are the source of truth.

Redis holds the queue in memory. A restart without persistence, a crash between snapshots, a failover
to a replica that lagged, a ``FLUSHALL``: each drops the queued messages and the unacknowledged copies
of running ones, and ``acks_late`` can't bring back what the broker no longer has. The database still
lists every unfinished job, so the worker publishes those again, but only when the broker did lose its
data: a marker key, written once the unfinished jobs are published, disappears together with the
messages. Republishing on age alone would add a copy of every job of a long backlog at every pass.

A job published twice this way (one whose message survived after all, or one still running on a
worker that kept it in memory) runs twice at most and takes effect once: ``jobs.run_job`` records the
outcome with a conditional UPDATE. Several workers may all publish after one loss; that costs copies,
not correctness. The SQLAlchemy transport keeps its queue in the database it shares with nothing that
restarts on its own, so the check is for Redis brokers only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis
from celery import bootsteps
from sqlalchemy import select

from reference_app.core.config import Settings
from reference_app.core.db import build_engine, build_sessionmaker
from reference_app.models import Job, JobStatus

log = logging.getLogger("refapp.jobs")

MARKER_KEY = "refapp:jobs:broker-marker"
UNFINISHED = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


def is_redis(broker_url: str) -> bool:
    return broker_url.startswith(("redis://", "rediss://", "unix://"))


async def unfinished_job_ids(settings: Settings) -> list[str]:
    engine = build_engine(settings)
    try:
        async with build_sessionmaker(engine)() as session:
            rows = await session.scalars(select(Job.id).where(Job.status.in_(UNFINISHED)).order_by(Job.created_at))
            return list(rows)
    finally:
        await engine.dispose()


def recover(publish: Callable[[str], None], settings: Settings, client: redis.Redis) -> int | None:
    """Publish every unfinished job again if the broker lost its data; how many (``None``: it had not)."""
    if client.exists(MARKER_KEY):
        return None
    run_id = client.info("server")["run_id"]
    ids = asyncio.run(unfinished_job_ids(settings))
    for job_id in ids:
        publish(job_id)
    client.set(MARKER_KEY, run_id)
    if client.info("server")["run_id"] != run_id:
        # Redis restarted while we published: the marker is on a server that may not have the messages,
        # so it goes, and the next pass publishes again.
        client.delete(MARKER_KEY)
    if ids:
        log.warning("the broker lost its data; unfinished jobs published again", extra={"jobs": len(ids)})
    return len(ids)


def recovery_step(settings: Settings, publish: Callable[[str], None]) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that runs ``recover`` every ``jobs_recovery_interval_s``, on a thread of its own
    (the worker's timer would wait behind a long job on the solo pool, and stalls while it reconnects)."""

    class JobRecovery(bootsteps.StartStopStep):  # type: ignore[misc]  # Celery ships no types
        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self._stop = threading.Event()
            self._thread: threading.Thread | None = None

        def start(self, worker: Any) -> None:
            self._thread = threading.Thread(target=self._loop, name="refapp-job-recovery", daemon=True)
            self._thread.start()

        def stop(self, worker: Any) -> None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=10)

        def _loop(self) -> None:
            client = redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=5)
            try:
                while not self._stop.is_set():
                    try:
                        recover(publish, settings, client)
                    except Exception:  # the broker or the database is down: the next pass tries again
                        log.warning("job recovery pass failed", exc_info=True)
                    self._stop.wait(settings.jobs_recovery_interval_s)
            finally:
                client.close()

    return JobRecovery
