"""A fixed offered load whose arrivals don't line up: one request per user per slot, at a random point.

Locust's ``constant_throughput(R)`` starts a user's tasks 1/R apart, so each user keeps the phase it
started with for the whole round. Ten users started together (or released together by a shared
login) then send their requests in a burst every 1/R seconds, and every request but the first waits
behind the others: a 2 ms item read measured 15-17 ms at its median, varying with the phases drawn
(1.4 to 13 ms of server time from one run to the next on the same server, at 22% CPU). The latency
then measured the burst, not the request; a 5 ms ``asyncio.sleep`` added to the read moved that
median by a fraction of its run-to-run spread and ``harness compare`` could not see it.

Here time is cut into slots of 1/R seconds from the user's start and the user starts one task at a
uniformly random point of each slot. The count per user is exactly R per second, as with
``constant_throughput`` (rps stays a fixed offered load, the same in every arm), while the arrivals
of U users are spread as U independent uniform points per slot: nearly Poisson at the server, so a
request queues only as long as the utilisation implies. A task that overruns into its next slot's
chosen point starts at once; a user more than a slot behind (a stalled server) skips the slots it
missed rather than firing them back to back, which would offer more than the stated rate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class SlotPacer:
    """``wait_time`` for a user that offers ``rate`` tasks per second at jittered points."""

    def __init__(self, rate: float, rng: random.Random, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, not {rate}")
        self.period = 1.0 / rate
        self._rng = rng
        self._clock = clock
        self._slot_start: float | None = None

    def first_wait(self) -> float:
        """The wait before the first task: a random point of the first slot, which starts now."""
        self._slot_start = self._clock()
        return self._rng.uniform(0.0, self.period)

    def __call__(self) -> float:
        """The wait after a task: until a random point of the next slot (0 if that point has passed)."""
        now = self._clock()
        if self._slot_start is None:
            self._slot_start = now
        self._slot_start += self.period
        if self._slot_start + self.period < now:  # more than a slot behind: resume in the current one
            self._slot_start = now - (now - self._slot_start) % self.period
        return max(0.0, self._slot_start + self._rng.uniform(0.0, self.period) - now)
