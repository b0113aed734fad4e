"""I/O-bound handlers: ``def`` + time.sleep (thread pool) vs ``async def`` + asyncio.sleep.

Arms: ``--arm sync`` hits /api/v1/lab/io-sync?ms=M, ``--arm async`` hits io-async with the same M
(``HARNESS_ARM`` / ``HARNESS_IO_MS`` when driven by ``harness load run io``). Closed loop, no think
time, so throughput is bounded by users/latency (async) or threadpool/latency (sync).
"""

from __future__ import annotations

from locust import FastHttpUser, constant, events, task

from load.profiles import _common as c


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, {"arm": ("async", "sync|async"), "io_ms": ("50", "simulated I/O per request, ms")})


class IoUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        arm = c.option(self.environment, "arm", "async")
        if arm not in ("sync", "async"):
            raise ValueError(f"arm must be sync or async, not {arm!r}")
        self.ms = int(c.option(self.environment, "io_ms", "50"))
        self.path = f"/api/v1/lab/io-{arm}?ms={self.ms}"
        self.label = f"io-{arm}"

    @task
    def io(self) -> None:
        with self.client.get(self.path, name=self.label, catch_response=True) as resp:
            c.check(resp)
