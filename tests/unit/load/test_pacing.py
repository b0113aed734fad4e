"""load/profiles/_pacing.py: exactly R tasks per second per user, at points redrawn every slot."""

from __future__ import annotations

import random
import statistics

import pytest

from load.profiles._pacing import SlotPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def simulate(rate: float, slots: int, duration: float | list[float], seed: int = 1) -> tuple[list[float], float]:
    """Task start times of one user (relative to its start) over ``slots`` slots, and the period."""
    clock = Clock()
    pacer = SlotPacer(rate, random.Random(seed), clock)
    origin = clock.now
    clock.now += pacer.first_wait()
    starts = []
    for i in range(slots):
        starts.append(clock.now - origin)
        clock.now += duration[i % len(duration)] if isinstance(duration, list) else duration
        wait = pacer()
        assert wait >= 0.0
        clock.now += wait
    return starts, pacer.period


def test_one_task_per_slot_at_the_stated_rate() -> None:
    starts, period = simulate(rate=10.0, slots=2000, duration=0.002)
    slots = [int(s // period) for s in starts]
    assert slots == list(range(2000))  # exactly one start in every slot: the offered rate is exact


def test_the_point_in_the_slot_is_redrawn_every_slot() -> None:
    # constant_throughput keeps one phase for the whole run: users started together stay in a burst.
    starts, period = simulate(rate=10.0, slots=2000, duration=0.002)
    offsets = [s % period / period for s in starts]
    assert statistics.pstdev(offsets) == pytest.approx((1 / 12) ** 0.5, rel=0.1)  # uniform on [0, 1)
    assert abs(statistics.correlation(offsets[:-1], offsets[1:])) < 0.1


def test_users_started_together_do_not_arrive_together() -> None:
    users = [simulate(rate=10.0, slots=200, duration=0.002, seed=seed)[0] for seed in range(10)]
    period = 0.1
    spans = []
    for k in range(200):
        points = sorted(u[k] % period for u in users)
        spans.append(points[-1] - points[0])
    # Ten uniform points in a slot span 9/11 of it on average; a burst would span ~0.
    assert statistics.mean(spans) / period == pytest.approx(9 / 11, abs=0.05)


def test_a_user_behind_skips_missed_slots_instead_of_bursting() -> None:
    # Every fifth task stalls for 3.5 slots; the others are quick.
    starts, period = simulate(rate=10.0, slots=500, duration=[0.35, 0.001, 0.001, 0.001, 0.001])
    slots = [int(s // period) for s in starts]
    assert len(set(slots)) == len(slots)  # never two tasks in one slot
    assert slots == sorted(slots)
    assert len(starts) / (slots[-1] + 1) < 1.0  # fewer tasks than slots: the missed ones are not made up


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        SlotPacer(0.0, random.Random(1))
