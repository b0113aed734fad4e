"""Rate limiter under a known offered load: /api/v1/lab/limited vs its unlimited twin.

Closed loop with ``constant_throughput(R)`` per user: U users offer U*R requests/s as long as a
response takes less than 1/R s. With a declared limit L/s (REFAPP_LAB_LIMIT, keyed by client IP,
and every user shares 127.0.0.1), the expected share of 429s is 1 - L/(U*R).

A 429 is an expected outcome here, counted as ``rate_limited`` and marked successful only if it
carries Retry-After and single-valued X-RateLimit-Limit/Remaining/Reset headers; anything else
is a failure. On a 200 the X-RateLimit-* headers are optional but must not be repeated.
"""

from __future__ import annotations

import random

import gevent
from locust import FastHttpUser, constant_throughput, events, task

from load.profiles import _common as c

RATELIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {
        "arm": ("limited", "limited|unlimited"),
        "per_user_rps": ("5", "requests per second each user offers (constant_throughput)"),
    })


class RateLimitUser(FastHttpUser):
    def on_start(self) -> None:
        self.arm = c.option(self.environment, "arm", "limited")
        if self.arm not in ("limited", "unlimited"):
            raise ValueError(f"arm must be limited or unlimited, not {self.arm!r}")
        rate = float(c.option(self.environment, "per_user_rps", "5"))
        self._pace = constant_throughput(rate)
        # Users spawned together would pace in step: the offered load arrives as bursts of U requests,
        # and a burst that lands just before the moving window's oldest entries expire is refused
        # whole, stretching the window's cycle (accepted rps measured 33-50 against a limit of 50).
        # A random phase per user makes the U*R requests/s arrive spread out, as the expected 429
        # share 1 - L/(U*R) assumes.
        gevent.sleep(random.uniform(0.0, 1.0 / rate))

    def wait_time(self) -> float:
        # constant_throughput keeps its pacing state on the user; the rate is read per test start.
        return float(self._pace(self))

    @task
    def hit(self) -> None:
        path = f"/api/v1/lab/{self.arm}"
        with self.client.get(path, name=self.arm, catch_response=True) as resp:
            if self.arm == "limited" and resp.status_code == 429:
                bad = [h for h in RATELIMIT_HEADERS if not c.single_valued(resp, h)]
                if c.header(resp, "Retry-After") is None:
                    bad.append("Retry-After")
                if bad:
                    c.count("checks_failed")
                    resp.failure(f"429 without proper headers: {bad}")
                else:
                    c.count("rate_limited")
                    resp.success()
                return
            body = c.check(resp)
            if body is not None and self.arm == "limited":
                # Optional on a 200, but if present each must be a single value.
                bad = [h for h in RATELIMIT_HEADERS
                       if c.header(resp, h) is not None and not c.single_valued(resp, h)]
                if bad:
                    c.count("checks_failed")
                    resp.failure(f"repeated rate-limit headers on a 200: {bad}")
