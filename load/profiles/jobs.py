"""Jobs: enqueue ``POST /api/v1/jobs`` at a fixed offered rate, then check every job reached ``done``.

The arms differ only in the server's jobs backend (in-process BackgroundTasks vs a Celery worker); the
file is the same. Enqueue latency is Locust's own ``/jobs`` stats. When a round stops (Locust's
``test_stop``) every job enqueued in it is polled, bounded by ``completion_timeout_s``, and counted:

- ``jobs_done``: finished with ``done``; ``jobs_failed``: finished with ``failed``;
- ``jobs_lost``: not finished by the deadline (a queue that dropped it, a worker that never came);
- ``jobs_duplicated``: ``completions`` > 1, an outcome recorded twice (a redelivery that took effect);
- ``jobs_span_ms``: first enqueue to last finish, so completion throughput = jobs_done / jobs_span_s.

Run with one Locust process: the check runs where the jobs were recorded.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import MethodType
from typing import Any

import gevent
import requests
from locust import FastHttpUser, constant_throughput, events, task

from load.profiles import _common as c

_ENQUEUED: list[str] = []
_TOKEN: list[str] = []  # the process's shared login, for the completion check


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {
        "arm": ("background", "label of the server's jobs backend"),
        "per_user_rps": ("2", "jobs enqueued per user per second"),
        "completion_timeout_s": ("60", "how long a round waits for its jobs to finish"),
        "email": ("", "seeded account e-mail"),
        "password": ("", "seeded account password"),
    })


class JobsUser(FastHttpUser):
    # A fixed offered rate, not a closed loop: the question is whether jobs keep up, not how fast POST is.
    wait_time = constant_throughput(1.0)

    def on_start(self) -> None:
        env = self.environment
        rate = float(c.option(env, "per_user_rps", "2"))
        self.wait_time = MethodType(constant_throughput(rate), self)  # type: ignore[method-assign]
        token = c.shared_login(self.client, c.option(env, "email", ""), c.option(env, "password", ""))
        if token:
            _TOKEN[:] = [token]
        self.headers = c.auth_header(token or "")

    @task
    def enqueue(self) -> None:
        with self.client.post("/api/v1/jobs", json={"kind": "item_report"}, headers=self.headers,
                              name="/jobs", catch_response=True) as resp:
            body = c.check(resp, status=202, keys=("id", "status"))
        if body is not None:
            _ENQUEUED.append(str(body["id"]))


def _on_test_start(environment: Any, **_: Any) -> None:
    _ENQUEUED.clear()


def _stamp(value: Any) -> float | None:
    return datetime.fromisoformat(str(value)).timestamp() if value else None


def _on_test_stop(environment: Any, **_: Any) -> None:
    """Poll every job of the round until it finished or the deadline passed; count the outcomes."""
    pending = list(dict.fromkeys(_ENQUEUED))
    if not pending or not environment.host:
        return
    headers = c.auth_header(_TOKEN[0] if _TOKEN else "")
    deadline = time.monotonic() + float(c.option(environment, "completion_timeout_s", "60"))
    first_created: float | None = None
    last_finished: float | None = None
    with requests.Session() as http:
        http.trust_env = False
        while pending and time.monotonic() < deadline:
            still = []
            for job_id in pending:
                try:
                    resp = http.get(f"{environment.host}/api/v1/jobs/{job_id}", headers=headers, timeout=10)
                    body = resp.json() if resp.status_code == 200 else {}
                except (requests.RequestException, ValueError):
                    body = {}
                status = body.get("status")
                if status not in ("done", "failed"):
                    still.append(job_id)
                    continue
                c.count("jobs_done" if status == "done" else "jobs_failed")
                if int(body.get("completions", 0)) > 1:
                    c.count("jobs_duplicated")
                created, finished = _stamp(body.get("created_at")), _stamp(body.get("finished_at"))
                if created is not None:
                    first_created = created if first_created is None else min(first_created, created)
                if finished is not None:
                    last_finished = finished if last_finished is None else max(last_finished, finished)
            pending = still
            if pending:
                gevent.sleep(0.2)
    c.count("jobs_lost", len(pending))
    if first_created is not None and last_finished is not None:
        c.count("jobs_span_ms", max(0, round((last_finished - first_created) * 1000)))


events.test_start.add_listener(_on_test_start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_on_test_stop)  # type: ignore[no-untyped-call]
