"""Circuit breaker and bulkhead for outbound calls.

Why not a library: the async candidates were checked (pybreaker: asyncio unsupported, Tornado only;
aiobreaker and aiocircuitbreaker: no release since 2021/2022; purgatory: async and maintained, but
its half-open state does not limit concurrent probes and its clock cannot be injected). What is
needed here is small: consecutive-failure counting, a reset timeout read from an injectable clock,
exactly one probe in half-open, and a transition hook for metrics. Everything below is covered by
``tests/unit/downstream/test_resilience.py`` with a fake clock.

Usage::

    breaker = CircuitBreaker("pricing", failure_threshold=5, reset_timeout_s=5.0)
    with breaker.attempt():           # raises CircuitOpenError without calling anything
        await call_downstream()       # any exception counts as a failure, a normal exit as success
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from enum import StrEnum

Clock = Callable[[], float]
TransitionHook = Callable[[str, "BreakerState", "BreakerState"], None]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def code(self) -> int:
        """Numeric gauge value: 0 closed, 1 open, 2 half-open."""
        return {"closed": 0, "open": 1, "half_open": 2}[self.value]


class CircuitOpenError(Exception):
    """The breaker refused the call; ``retry_after_s`` is when a probe may next be let through."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"circuit {name!r} is open")
        self.name = name
        self.retry_after_s = max(0.0, retry_after_s)

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class CircuitBreaker:
    """closed --N consecutive failures--> open --reset timeout--> half-open (one probe)
    --probe succeeds--> closed / --probe fails--> open (timer restarts).

    Single event loop, no awaits inside state changes, so no lock is needed.
    ``enabled=False`` turns it into a pass-through that still reports ``closed`` (the load A/B arm).
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_timeout_s: float,
        clock: Clock = time.monotonic,
        on_transition: TransitionHook | None = None,
        enabled: bool = True,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_timeout_s <= 0:
            raise ValueError("reset_timeout_s must be > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.enabled = enabled
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    # -- inspection ---------------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """The state as of now: an open breaker whose timeout has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_after_s(self) -> float:
        if self._state is BreakerState.OPEN:
            return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))
        return self.reset_timeout_s if self._probe_in_flight else 0.0

    # -- protocol -----------------------------------------------------------------------------
    def before_call(self) -> bool:
        """Admit a call or raise ``CircuitOpenError``. Returns True when the call is the probe."""
        if not self.enabled:
            return False
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        raise CircuitOpenError(self.name, self.retry_after_s())

    def on_success(self, probe: bool) -> None:
        if not self.enabled:
            return
        if probe:
            self._probe_in_flight = False
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._transition(BreakerState.CLOSED)

    def on_failure(self, probe: bool) -> None:
        if not self.enabled:
            return
        if probe:
            self._probe_in_flight = False
            self._open()
            return
        self._failures += 1
        if self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._open()

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """One guarded call. Any exception (cancellation and timeouts included) is a failure."""
        probe = self.before_call()
        try:
            yield
        except BaseException:
            self.on_failure(probe)
            raise
        self.on_success(probe)

    # -- internals ----------------------------------------------------------------------------
    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN)

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        if new is BreakerState.CLOSED:
            self._failures = 0
        if self._on_transition is not None:
            self._on_transition(self.name, old, new)


class BulkheadFullError(Exception):
    def __init__(self, name: str, size: int) -> None:
        super().__init__(f"bulkhead {name!r} is full ({size} calls in flight)")
        self.name = name
        self.size = size


class Bulkhead:
    """At most ``size`` concurrent calls to one downstream; a caller waits at most ``max_wait_s``."""

    def __init__(self, name: str, *, size: int, max_wait_s: float) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.name = name
        self.size = size
        self.max_wait_s = max(0.0, max_wait_s)
        self._sem = asyncio.Semaphore(size)
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem.locked() and self.max_wait_s == 0:
            raise BulkheadFullError(self.name, self.size)
        try:
            async with asyncio.timeout(self.max_wait_s):
                await self._sem.acquire()
        except TimeoutError:
            raise BulkheadFullError(self.name, self.size) from None
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._sem.release()
