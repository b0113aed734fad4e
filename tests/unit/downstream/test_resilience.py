"""The circuit breaker state machine (with an injected clock) and the bulkhead."""

from __future__ import annotations

import asyncio

import pytest

from reference_app.core.resilience import (
    BreakerState,
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call, so the type checker doesn't narrow the (time-dependent) property."""
    return breaker.state


class Boom(Exception):
    pass


def make(clock: FakeClock, **kw: object) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    transitions: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        "pricing", failure_threshold=3, reset_timeout_s=10.0, clock=clock,
        on_transition=lambda _n, old, new: transitions.append((old.value, new.value)), **kw,  # type: ignore[arg-type]
    )
    return breaker, transitions


def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(Boom), breaker.attempt():
        raise Boom


def succeed(breaker: CircuitBreaker) -> None:
    with breaker.attempt():
        pass


def test_opens_after_n_consecutive_failures_only() -> None:
    clock = FakeClock()
    breaker, transitions = make(clock)
    fail(breaker)
    fail(breaker)
    succeed(breaker)  # a success resets the count: failures must be consecutive
    fail(breaker)
    fail(breaker)
    assert state(breaker) is BreakerState.CLOSED
    fail(breaker)
    assert state(breaker) is BreakerState.OPEN
    assert transitions == [("closed", "open")]


def test_open_rejects_without_calling_and_reports_retry_after() -> None:
    clock = FakeClock()
    breaker, _ = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.advance(4.0)
    called = False
    with pytest.raises(CircuitOpenError) as info, breaker.attempt():
        called = True
    assert not called
    assert info.value.retry_after_s == pytest.approx(6.0)
    assert info.value.retry_after_header == "6"


def test_half_open_after_reset_admits_exactly_one_probe() -> None:
    clock = FakeClock()
    breaker, transitions = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.advance(10.0)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.before_call() is True  # the probe
    for _ in range(5):  # everyone else is refused while the probe is in flight
        with pytest.raises(CircuitOpenError):
            breaker.before_call()
    breaker.on_success(True)
    assert state(breaker) is BreakerState.CLOSED
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert breaker.before_call() is False  # closed: ordinary calls again


def test_failed_probe_reopens_and_restarts_the_timer() -> None:
    clock = FakeClock()
    breaker, transitions = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.advance(10.0)
    fail(breaker)  # the probe
    assert state(breaker) is BreakerState.OPEN
    clock.advance(9.9)
    assert state(breaker) is BreakerState.OPEN
    clock.advance(0.1)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert transitions[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_cancelled_probe_counts_as_failure() -> None:
    clock = FakeClock()
    breaker, _ = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.advance(10.0)
    with pytest.raises(asyncio.CancelledError), breaker.attempt():
        raise asyncio.CancelledError
    assert state(breaker) is BreakerState.OPEN


def test_closed_after_recovery_needs_n_new_failures() -> None:
    clock = FakeClock()
    breaker, _ = make(clock)
    for _ in range(3):
        fail(breaker)
    clock.advance(10.0)
    succeed(breaker)
    fail(breaker)
    fail(breaker)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2


def test_disabled_breaker_never_opens() -> None:
    clock = FakeClock()
    breaker, transitions = make(clock, enabled=False)
    for _ in range(10):
        fail(breaker)
    assert state(breaker) is BreakerState.CLOSED
    assert transitions == []


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, 0.0)])
def test_rejects_bad_configuration(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker("x", failure_threshold=threshold, reset_timeout_s=reset)


def test_state_codes_for_the_gauge() -> None:
    assert [s.code for s in BreakerState] == [0, 1, 2]


async def test_bulkhead_bounds_concurrency_and_wait() -> None:
    bulkhead = Bulkhead("pricing", size=2, max_wait_s=0.05)
    release = asyncio.Event()
    entered = 0

    async def hold() -> None:
        nonlocal entered
        async with bulkhead.slot():
            entered += 1
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    assert bulkhead.in_flight == 2
    # Bounded wait, not a hang, timed against a concurrent clock in the same loop rather than a
    # wall-clock budget: the probe's timer is due 40x later than the bulkhead's, so however long the
    # process is descheduled, the bulkhead's timeout fires first. The holders never let go.
    third = asyncio.create_task(_enter(bulkhead))
    probe = asyncio.create_task(asyncio.sleep(40 * bulkhead.max_wait_s))
    await asyncio.wait({third, probe}, return_when=asyncio.FIRST_COMPLETED)
    assert third.done(), "a third caller still waited at 40x max_wait_s: the wait is not bounded"
    probe.cancel()
    with pytest.raises(BulkheadFullError):
        await third  # and it got no slot
    release.set()
    await asyncio.gather(*holders)
    assert bulkhead.in_flight == 0
    async with bulkhead.slot():  # slots come back
        assert bulkhead.in_flight == 1


async def test_bulkhead_waiter_gets_a_freed_slot_within_the_wait() -> None:
    # The wait is generous: how long it is is not the subject, only that a waiter takes a freed slot.
    bulkhead = Bulkhead("pricing", size=1, max_wait_s=30.0)
    async with bulkhead.slot():
        waiter = asyncio.create_task(_enter(bulkhead))
        await asyncio.sleep(0)  # one loop step: the waiter runs up to the full semaphore
        assert not waiter.done()  # it is waiting, not refused
    assert await waiter is True


async def _enter(bulkhead: Bulkhead) -> bool:
    async with bulkhead.slot():
        return True


async def test_bulkhead_zero_wait_fails_immediately_when_full() -> None:
    bulkhead = Bulkhead("pricing", size=1, max_wait_s=0)
    async with bulkhead.slot():
        with pytest.raises(BulkheadFullError):
            async with bulkhead.slot():
                pass
