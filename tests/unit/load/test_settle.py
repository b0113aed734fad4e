"""The pause before measuring grows with the previous round's tail latency, within bounds."""

import pytest

from load.runner import MAX_SETTLE_S, MIN_SETTLE_S, settle_after


@pytest.mark.parametrize(
    ("p99_ms", "expected"),
    [(None, MIN_SETTLE_S), (40.0, MIN_SETTLE_S), (400.0, 0.4), (1500.0, 1.5), (60_000.0, MAX_SETTLE_S)],
)
def test_settle_follows_previous_p99(p99_ms: float | None, expected: float) -> None:
    assert settle_after({"p99_ms": p99_ms}) == pytest.approx(expected)


def test_a_thread_pool_backlog_is_waited_out() -> None:
    """200 queued 200 ms sleeps on 40 threads is a ~1 s backlog; a round whose p99 showed it waits longer."""
    assert settle_after({"p99_ms": 1700.0}) > (200 / 40) * 0.2


def test_an_arm_waits_for_its_own_queue_to_fill() -> None:
    """After a fast arm, a slow arm still settles for its own last p99 (the time its queue takes to build)."""
    fast, slow = {"p99_ms": 220.0}, {"p99_ms": 1400.0}
    assert settle_after(fast, slow) == pytest.approx(1.4)
    assert settle_after(slow, fast) == pytest.approx(1.4)  # and the other way round, for the backlog to drain
    assert settle_after(None, None) == MIN_SETTLE_S
    assert settle_after(fast, None) == MIN_SETTLE_S
