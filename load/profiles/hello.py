"""Cheapest endpoint, /api/v1/lab/hello: measures framework + middleware + server overhead.

Used by the ``middleware`` (REFAPP_MIDDLEWARE=bare vs full) and ``server`` (uvicorn vs gunicorn)
experiments; the arm lives in the server, not here. Under ``bare`` the correlation middleware is
off, so the runner sets ``HARNESS_REQUIRE_HEADERS=""`` for that arm.
"""

from __future__ import annotations

from locust import FastHttpUser, constant, task

from load.profiles import _common as c


class HelloUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self) -> None:
        with self.client.get("/api/v1/lab/hello", name="hello", catch_response=True) as resp:
            body = c.check(resp, keys=("message",))
            if body is not None and body.get("message") != "hello":
                c.count("checks_failed")
                resp.failure("unexpected message")
