"""Verdicts of ``harness compare``: pass / fail / inconclusive from head/base intervals, the exit code,
and the report files (summary.md verdict table first, under 60 lines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.diff import diff_documents
from harness import exitcodes
from harness.compare_report import BASE, HEAD, family_confidence, judge, overall, write_report
from reports.gates import baseline_outcome
from tests.utils.results_factory import Arm, make_results, with_measured


@pytest.mark.parametrize(
    ("low", "high", "higher", "expected"),
    [
        # latency (lower is better), limit 1.1
        (0.95, 1.05, False, "pass"),
        (1.12, 1.40, False, "fail"),
        (1.02, 1.30, False, "inconclusive"),
        (0.80, 1.10, False, "pass"),  # the bound exactly on the limit is within it
        # throughput (higher is better), limit 0.9
        (0.95, 1.05, True, "pass"),
        (0.60, 0.85, True, "fail"),
        (0.85, 1.05, True, "inconclusive"),
    ],
)
def test_verdict_of_an_interval(low: float, high: float, higher: bool, expected: str) -> None:
    """The rule compare's verdicts follow (a baseline gate's, shared)."""
    limit = 0.9 if higher else 1.1
    assert baseline_outcome(low, high, limit, higher_is_better=higher) == expected


def test_family_confidence_is_bonferroni() -> None:
    assert family_confidence(4) == pytest.approx(0.9875)
    assert family_confidence(1) == pytest.approx(0.95)


def _doc(head: Arm, base: Arm | None = None, *, seed: int = 1, rounds: int = 8) -> dict:
    return make_results({BASE: base or Arm(rps=100, p50_ms=20, noise=0.02), HEAD: head}, profile="item_read",
                        rounds=rounds, seed=seed)


def test_judge_a_clear_slowdown_fails_on_latency_and_rps() -> None:
    verdicts = {v.metric: v for v in judge(_doc(Arm(rps=60, p50_ms=40, noise=0.02)), 0.10)}
    assert set(verdicts) == {"rps", "p50", "p95", "p99"}
    assert all(v.outcome == "fail" for v in verdicts.values())
    p50 = verdicts["p50"]
    assert p50.estimate == pytest.approx(2.0, rel=0.1)
    assert p50.low is not None
    assert p50.low > 1.1
    assert "whole CI beyond" in p50.detail


def test_judge_identical_sides_pass() -> None:
    same = Arm(rps=100, p50_ms=20, noise=0.02)
    verdicts = judge(_doc(same, same), 0.10)
    assert {v.outcome for v in verdicts} == {"pass"}
    assert overall(verdicts) == "pass"


def test_judge_noisy_identical_sides_never_fail() -> None:
    """A/A on a very noisy machine: the intervals widen, so the verdict may be inconclusive, never fail."""
    noisy = Arm(rps=100, p50_ms=20, noise=0.30)
    outcomes = [v.outcome for seed in range(20) for v in judge(_doc(noisy, noisy, seed=seed, rounds=5), 0.10)]
    assert "fail" not in outcomes
    assert "inconclusive" in outcomes


def test_judge_a_slowdown_within_the_allowance_passes() -> None:
    verdicts = {v.metric: v for v in judge(_doc(Arm(rps=97, p50_ms=20.6, noise=0.005),
                                                Arm(rps=100, p50_ms=20, noise=0.005)), 0.10)}
    assert verdicts["p50"].outcome == "pass"
    assert verdicts["rps"].outcome == "pass"


def test_judge_faster_head_is_a_pass_not_a_fail() -> None:
    verdicts = judge(_doc(Arm(rps=200, p50_ms=10, noise=0.02)), 0.10)
    assert {v.outcome for v in verdicts} == {"pass"}


def test_judge_rejects_a_bad_allowance() -> None:
    with pytest.raises(ValueError, match="max_regression"):
        judge(_doc(Arm()), 1.5)


def test_overall_order() -> None:
    verdicts = judge(_doc(Arm(rps=60, p50_ms=40, noise=0.02)), 0.10)
    assert overall(verdicts) == "fail"
    assert overall(verdicts, valid=False) == "invalid"


def _info() -> dict:
    side = {"label": "abc1234 change", "env": "reused", "sha": "a" * 40, "ref": "HEAD"}
    return {"run_id": "r1", "experiment": "item_read", "arm": "item_read", "max_regression": 0.10,
            "base": side, "head": side, "rounds": 8, "round_seconds": 10.0, "elapsed_s": 100.0}


def _write(tmp_path: Path, doc: dict, **kwargs: bool) -> tuple[str, int]:
    load = tmp_path / "load.json"
    load.write_text(json.dumps(doc))
    old = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {
        "/items": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    new = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    return write_report(tmp_path / "out", load, judge(doc, 0.10), diff_documents(old, new), _info(),
                        strict_inconclusive=kwargs.get("strict", False))


def test_report_files_and_exit_code_on_fail(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    outcome, code = _write(tmp_path, _doc(Arm(rps=60, p50_ms=40, noise=0.02)))
    assert (outcome, code) == ("fail", exitcodes.GATE_FAILED)
    out = tmp_path / "out"
    summary = (out / "summary.md").read_text()
    lines = summary.splitlines()
    assert len(lines) < 60
    assert "FAIL" in lines[0]
    assert lines[2].startswith("| | metric |")  # the verdict table comes first
    assert "Contract diff base → head" in summary
    assert "1 breaking" in summary
    compare = json.loads((out / "compare.json").read_text())
    assert compare["outcome"] == "fail"
    assert {v["metric"] for v in compare["verdicts"]} == {"rps", "p50", "p95", "p99"}
    assert all(v["low"] is not None and v["high"] is not None for v in compare["verdicts"])
    report = json.loads((out / "results.json").read_text())
    assert report["gates"]["outcome"] == "fail"
    assert report["contract_diff"]["breaking"] == 1
    assert "compare p50 head/base" in (out / "index.html").read_text()
    assert "compare p50 head/base" in (out / "gates.junit.xml").read_text()


def test_inconclusive_exits_0_unless_strict(tmp_path: Path) -> None:
    noisy = Arm(rps=100, p50_ms=20, noise=0.30)
    doc = make_results({BASE: noisy, HEAD: noisy}, profile="item_read", rounds=3, seed=2)
    (tmp_path / "out").mkdir()
    outcome, code = _write(tmp_path, doc)
    assert outcome == "inconclusive"
    assert code == exitcodes.OK
    outcome, code = _write(tmp_path, doc, strict=True)
    assert (outcome, code) == ("inconclusive", exitcodes.GATE_FAILED)


def test_an_invalid_run_exits_3(tmp_path: Path) -> None:
    doc = make_results({BASE: Arm(), HEAD: Arm()}, profile="item_read", valid=False,
                       reasons=["invalid: load generator saturated"])
    (tmp_path / "out").mkdir()
    outcome, code = _write(tmp_path, doc)
    assert (outcome, code) == ("invalid", exitcodes.INVALID_RUN)
    assert "Invalid run" in (tmp_path / "out" / "summary.md").read_text()


# p50 of each round of a default-plan compare on a quiet machine, base vs head + 1 ms of asyncio.sleep
# on the read: every head round slower than every base round.
MEASURED_BASE_P50 = [1.824, 2.118, 1.975, 2.548, 2.732, 2.651, 1.879, 2.329]
MEASURED_HEAD_P50 = [2.857, 3.854, 3.318, 4.388, 3.368, 4.216, 4.658, 2.872]


def _with_p50(doc: dict[str, Any], resolution: float | None) -> dict[str, Any]:
    return with_measured(doc, "p50_ms", {BASE: MEASURED_BASE_P50, HEAD: MEASURED_HEAD_P50}, resolution=resolution)


def test_judge_reads_percentiles_at_the_resolution_the_rounds_record() -> None:
    """Rounds from the harness's histogram are known to 0.5 %: a 2 -> 3.6 ms p50 with every head round
    slower fails. Judged as Locust's whole-millisecond buckets (older results) each 2 ms value is
    +-25 %, and the same rounds are inconclusive; compare used that widening on every result."""
    doc = _doc(Arm(rps=100, p50_ms=3.6, noise=0.02), Arm(rps=100, p50_ms=2.2, noise=0.02))
    fine = {v.metric: v for v in judge(_with_p50(doc, 0.005), 0.10)}["p50"]
    assert fine.outcome == "fail", fine.detail
    assert fine.low is not None
    assert fine.low > 1.2
    coarse = {v.metric: v for v in judge(_with_p50(doc, None), 0.10)}["p50"]
    assert coarse.outcome == "inconclusive", coarse.detail
    assert coarse.low is not None
    assert coarse.low < 1.0
