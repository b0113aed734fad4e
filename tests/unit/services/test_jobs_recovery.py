"""Recovery of jobs a Redis broker lost: which jobs are published again, and when.

The broker is a stand-in with the four calls ``recover`` makes (a marker key and the server's run id);
the database is real (SQLite file, the app's schema). tests/integration/test_jobs_celery.py restarts a
real Redis under a real worker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from reference_app.core.config import Settings
from reference_app.main import create_app
from reference_app.models import Job, JobStatus
from reference_app.services.jobs_celery import create_celery
from reference_app.services.jobs_recovery import MARKER_KEY, recover
from tests.utils.app_fixtures import build_test_settings, open_client
from tests.utils.factories import create_user


class Broker:
    """The marker and the run id of a Redis; ``restarts_during_pass`` changes the id after the first read."""

    def __init__(self, *, marker: bool = False, restarts_during_pass: bool = False) -> None:
        self.keys: dict[str, object] = {MARKER_KEY: "r0"} if marker else {}
        self.run_ids = ["r1", "r2" if restarts_during_pass else "r1"]

    def exists(self, key: str) -> int:
        return int(key in self.keys)

    def info(self, section: str) -> dict[str, str]:
        assert section == "server"
        return {"run_id": self.run_ids.pop(0) if len(self.run_ids) > 1 else self.run_ids[0]}

    def set(self, key: str, value: object) -> None:
        self.keys[key] = value

    def delete(self, key: str) -> None:
        self.keys.pop(key, None)


async def jobs_in_every_state(tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    settings = build_test_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/jobs.db")
    app = create_app(settings)
    ids: dict[str, str] = {}
    async for client in open_client(app):
        user = await create_user(client)
        async with app.state.sessionmaker() as session:
            for status in JobStatus:
                job = Job(owner_id=user.id, kind="item_report", status=status.value)
                session.add(job)
                await session.flush()
                ids[status.value] = job.id
            await session.commit()
    return settings, ids


async def run_recover(settings: Settings, broker: Broker) -> tuple[int | None, list[str]]:
    published: list[str] = []
    # recover() runs its query with asyncio.run, as on the worker's recovery thread.
    n = await asyncio.to_thread(recover, published.append, settings, broker)  # type: ignore[arg-type]
    return n, published


async def test_a_broker_that_kept_its_marker_gets_nothing_again(tmp_path: Path) -> None:
    settings, _ids = await jobs_in_every_state(tmp_path)
    assert await run_recover(settings, Broker(marker=True)) == (None, [])


async def test_a_broker_without_the_marker_gets_every_unfinished_job_and_the_marker(tmp_path: Path) -> None:
    settings, ids = await jobs_in_every_state(tmp_path)
    broker = Broker()
    n, published = await run_recover(settings, broker)
    assert sorted(published) == sorted([ids["pending"], ids["running"]])  # never a finished one
    assert n == 2
    assert broker.keys[MARKER_KEY] == "r1"
    assert await run_recover(settings, broker) == (None, [])  # the next pass: nothing was lost since


async def test_a_restart_during_the_pass_leaves_no_marker_so_the_next_pass_publishes_again(
        tmp_path: Path) -> None:
    settings, ids = await jobs_in_every_state(tmp_path)
    broker = Broker(restarts_during_pass=True)
    assert (await run_recover(settings, broker))[0] == 2
    assert MARKER_KEY not in broker.keys
    _n, published = await run_recover(settings, broker)
    assert sorted(published) == sorted([ids["pending"], ids["running"]])
    assert broker.keys[MARKER_KEY] == "r2"


def test_only_a_redis_broker_gets_the_recovery_step(tmp_path: Path) -> None:
    def steps(**overrides: Any) -> set[str]:
        app = create_celery(build_test_settings(tmp_path, jobs_backend="celery", **overrides))
        return {step.__name__ for step in app.steps["worker"]}

    assert "JobRecovery" in steps(redis_url="redis://127.0.0.1:6379/0")
    assert "JobRecovery" not in steps(redis_url="redis://127.0.0.1:6379/0", jobs_recovery_interval_s=0)
    assert "JobRecovery" not in steps()  # the embedded SQLAlchemy broker keeps its queue on disk
