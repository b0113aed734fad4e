"""Jobs on a real Celery worker process over the real Redis: a worker killed mid-job, a Redis restart, Flower.

The API runs in-process (its own SQLite file, which the worker opens too); the worker and Flower are
real processes started as the reference app's ``[tool.harness.processes]`` start them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.server import free_port
from reference_app.core.config import Settings
from reference_app.main import create_app
from reference_app.services.jobs_recovery import MARKER_KEY
from tests.integration.support import RedisDb, wait_for
from tests.utils.app_fixtures import build_test_settings, open_client
from tests.utils.factories import create_user

pytestmark = pytest.mark.integration
WORKER = [sys.executable, "-m", "celery", "-A", "reference_app.worker", "worker", "--pool", "solo",
          "--loglevel", "INFO", "--without-gossip", "--without-mingle"]


def settings_for(tmp_path: Path, redis_db: RedisDb, **overrides: object) -> Settings:
    return build_test_settings(
        tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/jobs.db", jobs_backend="celery",
        redis_url=redis_db.url, jobs_visibility_timeout_s=3, **overrides)


def process_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFAPP_")}
    env.update({"REFAPP_ENV": "test", "REFAPP_DATABASE_URL": settings.database_url,
                "REFAPP_REDIS_URL": str(settings.redis_url), "REFAPP_JOBS_BACKEND": "celery",
                "REFAPP_JOBS_VISIBILITY_TIMEOUT_S": str(settings.jobs_visibility_timeout_s),
                "REFAPP_JOBS_WORK_MS": str(settings.jobs_work_ms), "REFAPP_STORAGE_DIR": settings.storage_dir,
                "REFAPP_JWT_SECRET": settings.jwt_secret.get_secret_value(), "REFAPP_LOG_LEVEL": "INFO"})
    return env


class Procs:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.procs = tmp_path, []  # type: ignore[var-annotated]

    def start(self, argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    p.stop()


async def poll(client: httpx.AsyncClient, url: str, headers: dict[str, str], want: str,
               timeout_s: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s  # a hang guard for a busy machine, not a timing assertion
    while time.monotonic() < deadline:
        body: dict[str, object] = (await client.get(url, headers=headers)).json()
        if body["status"] == want:
            return body
        await _sleep(0.1)
    raise AssertionError(f"job never reached {want}: {body}")


async def _sleep(s: float) -> None:
    import anyio

    await anyio.sleep(s)


async def test_a_job_whose_worker_is_killed_mid_job_completes_after_a_restart(
        tmp_path: Path, redis_db: RedisDb, procs: Procs) -> None:
    settings = settings_for(tmp_path, redis_db, jobs_work_ms=3000)
    app = create_app(settings)
    async for client in open_client(app):
        user = await create_user(client)
        env = process_env(settings)
        worker = procs.start(WORKER, env, "worker1")
        response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
        location = response.headers["location"]
        await poll(client, location, user.headers, "running")
        os.killpg(worker.pid, signal.SIGKILL)  # kill -9, mid-job: the message was not acknowledged
        worker.wait(timeout=10)
        assert (await client.get(location, headers=user.headers)).json()["status"] == "running"
        procs.start(WORKER, env, "worker2")
        job = await poll(client, location, user.headers, "done")
        assert job["completions"] == 1
        assert job["result"] == {"count": 0, "total_value": "0.00", "by_category": {}}


async def test_a_redis_restart_loses_no_job_and_runs_none_twice(
        tmp_path: Path, own_redis: tuple[Any, RedisDb], procs: Procs) -> None:
    """Redis restarts, without persistence, while jobs are queued and one is running: every queued
    message and the running one's unacknowledged copy are gone. The worker's recovery step notices
    the broker lost its data and publishes every unfinished job again from the job rows; the job row
    and its conditional UPDATE keep a job that now runs twice from taking effect twice."""
    container, redis_db = own_redis
    redis_db.client.flushall()
    settings = settings_for(tmp_path, redis_db, jobs_work_ms=1000)
    env = {**process_env(settings), "REFAPP_JOBS_RECOVERY_INTERVAL_S": "1"}
    app = create_app(settings)
    async for client in open_client(app):
        user = await create_user(client)
        procs.start(WORKER, env, "worker")

        async def recovery_armed() -> bool:  # the worker's first pass, on an empty database: publishes nothing
            return bool(redis_db.client.exists(MARKER_KEY))

        await wait_for(recovery_armed, within=60, what="the worker's first recovery pass")
        before = [(await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"}))
                  .headers["location"] for _ in range(6)]
        await poll(client, before[0], user.headers, "running")
        queued = redis_db.client.llen("celery")
        assert queued > 0  # the restart must find jobs waiting in the queue, or it proves nothing

        await asyncio.to_thread(container.restart, timeout=10)

        async def answers() -> bool:
            return bool(redis_db.client.ping())

        await wait_for(answers, within=60, interval=0.25, what="Redis to answer after its restart")
        # The API's publisher reconnects too: jobs submitted after the restart run as well.
        after = []
        for _ in range(2):
            response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
            assert response.status_code == 202, response.text
            after.append(response.headers["location"])
        jobs = [await poll(client, location, user.headers, "done", timeout_s=120) for location in before + after]
        log = (tmp_path / "worker.log").read_text()
        assert [job["completions"] for job in jobs] == [1] * len(jobs), log[-3000:]
        assert log.count("published again") == 1  # the recovery ran once, after the restart: no job was saved by luck


async def test_flower_lists_the_task(tmp_path: Path, redis_db: RedisDb, procs: Procs) -> None:
    """Flower learns of tasks from task events, which are fire-and-forget: one sent before Flower's event
    consumer has subscribed is never seen. So the test waits until Flower answers, then submits jobs
    until Flower lists one as done (a few at most), and asserts on a job that ran while it watched."""
    settings = settings_for(tmp_path, redis_db)
    app = create_app(settings)
    port = free_port()
    env = {**process_env(settings), "REFAPP_FLOWER_BASIC_AUTH": "watcher:s3cret-pass"}
    procs.start([sys.executable, "-m", "reference_app.flower", "--port", str(port)], env, "flower")
    procs.start(WORKER, env, "worker")
    names: set[tuple[object, object]] = set()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as flower:

        async def flower_tasks() -> dict[str, dict[str, object]]:
            try:
                assert (await flower.get("/api/tasks")).status_code == 401  # basic auth, always
                r = await flower.get("/api/tasks", auth=("watcher", "s3cret-pass"))
            except httpx.TransportError:
                return {}
            return r.json() if r.status_code == 200 else {}

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "flower.log").read_text().count("Connected to"):
            await _sleep(0.2)
        async for client in open_client(app):
            user = await create_user(client)
            for _attempt in range(5):
                response = await client.post("/api/v1/jobs", headers=user.headers, json={"kind": "item_report"})
                job = await poll(client, response.headers["location"], user.headers, "done")
                assert job["completions"] == 1
                seen_until = time.monotonic() + 10
                while time.monotonic() < seen_until:
                    tasks = await flower_tasks()
                    names = {(t.get("name"), t.get("state")) for t in tasks.values()}
                    if ("refapp.jobs.run", "SUCCESS") in names:
                        break
                    await _sleep(0.5)
                if ("refapp.jobs.run", "SUCCESS") in names:
                    break
        assert ("refapp.jobs.run", "SUCCESS") in names, (names, (tmp_path / "flower.log").read_text()[-2000:])
