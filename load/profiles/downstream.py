"""Service-to-service calls under a downstream failure: GET /api/v1/items/{id}/quote.

The runner starts the pricing downstream with an injected fault (see the ``downstream`` experiment)
and two app servers that differ only in ``REFAPP_PRICING_BREAKER_ENABLED``. Every user logs in once
(POST /api/v1/auth/token) with the seeded account, then asks for quotes of random seeded items.

What counts as correct: a live quote (200), a stale quote (200 with ``X-Served-Stale: true``) and the
documented degraded answer (503 problem+json with ``Retry-After``): they are counted in ``live``,
``stale`` and ``degraded`` and are not errors. Anything else (a 500, a 502 from a healthy-shaped
downstream, a missing header, a transport error or a hang cut by Locust) is an error. The question
the experiment answers is latency: does the breaker keep p99 bounded while the downstream is down?
"""

from __future__ import annotations

from locust import FastHttpUser, constant, events, task

from load.profiles import _common as c


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {
        **c.SEEDED_OPTIONS,
        **c.SEED_OPTION,
    })


class QuoteUser(FastHttpUser):
    wait_time = constant(0)
    # A hung downstream must surface as a slow response, not as a stuck user.
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        env = self.environment
        self.ids = c.item_ids(env)
        if not self.ids:
            raise ValueError("HARNESS_ITEM_IDS is empty: the runner seeds items before measuring")
        token = c.login(self.client, c.option(env, "email", ""), c.option(env, "password", ""))
        self.headers = c.auth_header(token or "")
        self.rng = c.user_rng(env)

    @task
    def quote(self) -> None:
        item_id = self.rng.choice(self.ids)
        with self.client.get(f"/api/v1/items/{item_id}/quote", headers=self.headers,
                             name="/items/[id]/quote", catch_response=True) as resp:
            if resp.status_code == 503:
                ctype = str(c.header(resp, "Content-Type") or "")
                if ctype.startswith("application/problem+json") and c.header(resp, "Retry-After") is not None:
                    c.count("degraded")
                    resp.success()
                else:
                    c.count("checks_failed")
                    resp.failure("503 without problem+json and Retry-After")
                return
            body = c.check(resp, keys=("item_id", "quoted_price", "source"))
            if body is None:
                return
            stale = c.header(resp, "X-Served-Stale") == "true"
            if stale != (body.get("source") == "stale"):
                c.count("checks_failed")
                resp.failure("X-Served-Stale and source disagree")
                return
            c.count("stale" if stale else "live")
