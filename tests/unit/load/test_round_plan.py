"""How a run's rounds are sized: the caller's choice, the experiment's plan, and its floor."""

from __future__ import annotations

from pathlib import Path

from harness.target import load_target
from load.runner import RunOptions
from reports import plans


def test_caller_round_length_wins_over_the_plan() -> None:
    r = RunOptions(quick=True, round_seconds=0.75).resolved({"round_seconds": 9.0})
    assert r["round_seconds"] == 0.75


def test_min_round_seconds_is_a_floor_under_every_entry_point() -> None:
    plan = {"min_round_seconds": 1.0}
    assert RunOptions(quick=True, round_seconds=0.75).resolved(plan)["round_seconds"] == 1.0
    assert RunOptions(quick=True).resolved(plan)["round_seconds"] == 4.0  # above the floor: unchanged
    assert RunOptions(round_seconds=2.0).resolved(plan)["round_seconds"] == 2.0


def test_the_rate_limit_experiment_never_measures_less_than_its_window() -> None:
    """Its arms alternate, so every round starts on an empty 1 s window: shorter rounds let a whole
    window's allowance through in less than a second and overstate the accepted rate."""
    target = load_target(Path(__file__).resolve().parents[3])
    plan = target.experiments["ratelimit"].plan.model_dump(exclude_none=True)
    assert RunOptions(quick=True, round_seconds=0.75).resolved(plan)["round_seconds"] >= 1.0


def test_a_quick_aa_check_runs_the_aa_plans_rounds() -> None:
    """4 quick rounds are too few to show two arms the same (tests/reports/test_calibration.py)."""
    assert RunOptions(quick=True, aa=True).resolved()["rounds"] == plans.QUICK_AA.rounds
    assert RunOptions(quick=True).resolved()["rounds"] == plans.QUICK.rounds
    assert RunOptions(quick=True, aa=True, rounds=3).resolved()["rounds"] == 3  # the caller's word wins
    assert RunOptions(aa=True).resolved()["rounds"] == plans.DEFAULT.rounds
