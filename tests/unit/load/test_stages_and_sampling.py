"""Load-shape stages (load.stages) and the CPU window used for saturation (load.rounds)."""

from __future__ import annotations

import os
import time

import pytest

from load.rounds import CpuWindow, process_changes, rss_mb, tree_pids
from load.stages import selected_stages, spike_stages, step_stages, tick_for


def test_step_stages_and_ticks() -> None:
    stages = step_stages([10, 20, 40], 30)
    assert [(s.until_s, s.users) for s in stages] == [(30, 10), (60, 20), (90, 40)]
    assert tick_for(stages, 0) == (10, 10.0)
    assert tick_for(stages, 45) == (20, 20.0)
    assert tick_for(stages, 89.9) == (40, 40.0)
    assert tick_for(stages, 90) is None


def test_spike_stages() -> None:
    stages = spike_stages(10, 100, 20, 5)
    assert [tick_for(stages, t) for t in (0, 21, 26, 46)] == [(10, 10.0), (100, 100.0), (10, 100.0), None]


def test_selected_from_env() -> None:
    assert [s.users for s in selected_stages({"HARNESS_SHAPE_STEPS": "1,2", "HARNESS_SHAPE_STEP_S": "5"})] == [1, 2]
    assert len(selected_stages({"HARNESS_SHAPE": "spike"})) == 3
    with pytest.raises(ValueError, match="step or spike"):
        selected_stages({"HARNESS_SHAPE": "zigzag"})
    with pytest.raises(ValueError, match="base <= peak"):
        spike_stages(10, 5, 1, 1)


def test_cpu_window_measures_a_busy_process() -> None:
    window = CpuWindow(lambda: [os.getpid()])
    window.start()
    deadline = time.monotonic() + 0.3
    x = 0
    while time.monotonic() < deadline:  # bounded busy loop
        x += 1
    pct = window.stop()[os.getpid()]
    assert 0.0 < pct <= 150.0  # a shared machine may starve us; only sanity is checked
    assert tree_pids(os.getpid())[0] == os.getpid()
    assert rss_mb([os.getpid()]) > 1.0


def test_process_changes_name_a_replaced_worker() -> None:
    """A gunicorn worker recycled mid-round: the master stays, one worker goes, another comes."""
    assert process_changes([10, 11, 12], [10, 12, 11]) is None  # same set, any order
    assert process_changes([10, 11, 12], [10, 12, 13]) == {"gone": [11], "new": [13]}
    assert process_changes([10, 11], [10]) == {"gone": [11], "new": []}  # a crash, not replaced yet
    assert process_changes([10], [10, 11]) == {"gone": [], "new": [11]}
