"""The journey at a steady offered load, for soaks: each user starts one task every 1/R seconds.

A soak asks whether memory grows with *work done*, so the work per minute must not drift: with the
journey's own ``between(0.05, 0.2)`` a server that slows down would also be offered less. Here
``constant_throughput(R)`` (``per_user_rps``) paces each user, so U users offer U*R tasks/s as long
as a task takes less than 1/R s. The journey module is imported as a module, not its class by name,
so that Locust does not find (and run) its JourneyUser here as well.

Each user logs in again every ``relogin_s`` seconds (default 600): a soak outlives the access token
(900 s by default), and a run of 401s would be measured as cheap, fast "work".
"""

from __future__ import annotations

import time

from locust import constant_throughput, events

from load.profiles import _common as c
from load.profiles import journey


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {"per_user_rps": ("2", "tasks per second each user starts (constant_throughput)"),
                           "relogin_s": ("600", "seconds between a user's logins (under the token's lifetime)")})


class SoakUser(journey.JourneyUser):
    def on_start(self) -> None:
        super().on_start()
        self._pace = constant_throughput(float(c.option(self.environment, "per_user_rps", "2")))
        self._relogin_s = float(c.option(self.environment, "relogin_s", "600"))
        self._logged_in_at = time.monotonic()

    def wait_time(self) -> float:  # a method, not between(): the rate is read per test start
        if time.monotonic() - self._logged_in_at > self._relogin_s:
            env = self.environment
            token = c.login(self.client, c.option(env, "email", ""), c.option(env, "password", ""))
            self.headers = c.auth_header(token or "")
            self._logged_in_at = time.monotonic()
        return float(self._pace(self))
