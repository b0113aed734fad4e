"""Summaries, comparisons, saturation and validity on synthetic rounds (load.analysis)."""

from __future__ import annotations

import pytest

from load import analysis
from reports import plans
from tests.unit.load.synthetic import ARMS, make_round, two_arm_rounds


def test_summary_uses_medians_of_measured_rounds_only() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[0]["rps"] = 1e9  # a warm-up must never count
    s = analysis.summarize(rounds, ARMS)
    assert s["A"]["rounds"] == 3
    assert s["A"]["rps_median"] == 110
    assert s["B"]["rps_median"] == 420
    assert s["A"]["measured_over_bound"] == pytest.approx(110 / 200)
    assert s["B"]["measured_over_bound"] == pytest.approx(420 / 500)
    assert s["A"]["p95_ms_median"] == 101


def test_clear_difference_is_significant() -> None:
    rounds = two_arm_rounds((100, 110, 120, 105, 115), (400, 420, 440, 410, 430))
    c = analysis.compare(rounds, "B", "A", "rps")
    assert c["verdict"] == "numerator higher"
    assert c["low"] > 1
    assert c["estimate"] == pytest.approx(420 / 110)
    lower = analysis.compare(rounds, "A", "B", "rps")
    assert lower["verdict"] == "numerator lower"


def test_identical_arms_show_no_difference() -> None:
    rounds = two_arm_rounds((100, 120, 110), (115, 105, 112))
    for metric in analysis.METRICS:
        assert analysis.compare(rounds, "B", "A", metric)["verdict"] not in analysis.DIFFERENT
    # rps spreads +-10% between rounds: the interval holds 1 but reaches past the default margin
    assert analysis.compare(rounds, "B", "A", "rps")["verdict"] == analysis.NO_DIFFERENCE


def test_a_precise_small_drift_is_equivalent_not_a_verdict() -> None:
    # 1% apart, measured precisely: the interval excludes 1, yet lies inside the +-10% margin
    rounds = two_arm_rounds((100, 100.2, 99.9, 100.1, 100, 99.8), (101, 101.1, 100.9, 101.2, 101, 100.9))
    c = analysis.compare(rounds, "B", "A", "rps", plan=plans.DEFAULT)
    assert c["low"] > 1.0
    assert c["verdict"] == analysis.EQUIVALENT
    assert c["margin"] == plans.DEFAULT.margin("rps")
    assert c["mde"] == plans.DEFAULT.mde("rps")
    assert c["confidence"] == pytest.approx(0.9589, abs=1e-4)  # attained by 6 vs 6 rounds, not a nominal 95%


def test_confidence_reported_is_the_attained_one() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    assert analysis.compare(rounds, "B", "A", "rps")["confidence"] == pytest.approx(0.9)  # 3 vs 3: 90% at most


def test_percentile_of_too_few_requests_is_left_out() -> None:
    rounds = two_arm_rounds((100, 110, 120, 105), (400, 420, 440, 410))
    for r in rounds:
        r["requests"] = 500  # enough for p95 (200), not for p99 (1000)
    rounds[-1]["requests"] = 5000
    p95 = analysis.compare(rounds, "B", "A", "p95_ms")
    assert (p95["n_numerator"], p95["n_denominator"]) == (4, 4)
    p99 = analysis.compare(rounds, "B", "A", "p99_ms")
    assert p99["verdict"].startswith("invalid: not enough data (no round with 1000+ requests)")
    assert "left out" in p99["note"]


def test_comparisons_are_every_arm_against_the_first() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    cs = analysis.comparisons_for(rounds, ["A", "B"], invalid_reason=None)
    assert [(c["numerator"], c["denominator"], c["metric"]) for c in cs] == [
        ("B", "A", "rps"), ("B", "A", "p95_ms"), ("B", "A", "p99_ms")]
    assert analysis.comparisons_for(rounds, ["A"], invalid_reason=None) == []


def test_missing_data_is_reported_not_crashed() -> None:
    rounds = two_arm_rounds((100, 110), (0.0, 0.0))
    assert analysis.compare(rounds, "B", "A", "rps")["verdict"].startswith("invalid:")


@pytest.mark.parametrize(("cpu", "flag"), [(89.9, False), (90.0, True), (99.0, True), (10.0, False)])
def test_saturation_threshold(cpu: float, flag: bool) -> None:
    assert analysis.is_saturated(cpu) is flag


def test_saturated_round_invalidates_run_and_verdicts() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[3]["generator_cpu_percent"], rounds[3]["saturated"] = 97.0, True
    s = analysis.summarize(rounds, ARMS)
    v = analysis.validity(rounds, s)
    assert v["valid"] is False
    assert v["reasons"] == [analysis.SATURATED_REASON]
    cs = analysis.comparisons_for(rounds, ["A", "B"], invalid_reason=analysis.SATURATED_REASON)
    assert {c["verdict"] for c in cs} == {analysis.SATURATED_REASON}


def test_saturated_warmup_does_not_invalidate() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[0]["saturated"] = True
    assert analysis.validity(rounds, analysis.summarize(rounds, ARMS))["valid"] is True


def test_error_rate_above_threshold_is_invalid() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    for r in rounds:
        if r["arm"] == "B":
            r["errors"] = r["requests"] // 10
    v = analysis.validity(rounds, analysis.summarize(rounds, ARMS))
    assert not v["valid"]
    assert "arm B error rate" in v["reasons"][0]


def test_a_round_that_completed_no_request_is_invalid() -> None:
    # A third-party app deadlocked under 20 users: every round had 0 requests and 0 errors, and the
    # run said "valid" and exited 0.
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[4]["requests"], rounds[4]["rps"] = 0, 0.0
    v = analysis.validity(rounds, analysis.summarize(rounds, ARMS))
    assert not v["valid"]
    assert "1 measured round(s) completed no request (round 4 (A))" in v["reasons"][0]
    warm = two_arm_rounds((100, 110, 120), (400, 420, 440))
    warm[0]["requests"] = 0  # a warm-up round is discarded anyway
    assert analysis.validity(warm, analysis.summarize(warm, ARMS))["valid"]


def test_percentiles_from_the_fine_histogram_are_widened_by_its_resolution_only() -> None:
    # Two arms whose p95s sit around 5 ms, 10 rounds each: Locust's 1 ms buckets widen the interval
    # by +-10% per arm, more than a third of the quick margin; load.latency's 0.5% buckets by 0.25%.
    p95s_a = (4.6, 5.9, 4.5, 5.6, 5.3, 4.6, 6.0, 5.2, 5.5, 4.5)
    p95s_b = (5.5, 4.6, 5.2, 5.8, 4.5, 5.3, 5.9, 4.6, 5.2, 5.9)
    coarse = two_arm_rounds((100,) * 10, (100,) * 10)
    for r in coarse:
        if not r["warmup"]:
            r["p95_ms"] = (p95s_a if r["arm"] == "A" else p95s_b)[(r["index"] - 2) // 2]
    fine = [{**r, "latency_resolution": 0.005} for r in coarse]
    plan = plans.QUICK_AA
    c_coarse = analysis.compare(coarse, "B", "A", "p95_ms", plan=plan)
    c_fine = analysis.compare(fine, "B", "A", "p95_ms", plan=plan)
    assert c_coarse["estimate"] == pytest.approx(c_fine["estimate"])
    assert c_coarse["equivalence"]["high"] / c_fine["equivalence"]["high"] == pytest.approx(
        (1 + 0.5 / 4.5 + 0.5 / 4.5) / (1 + 0.0025 + 0.0025), rel=1e-6)  # half-buckets at each arm's fastest
    assert c_coarse["verdict"] != "equivalent"
    assert c_fine["verdict"] == "equivalent"
    mixed = [{**r, "latency_resolution": 0.005} if r["arm"] == "A" else r for r in coarse]
    assert analysis.latency_resolution([r for r in mixed if r["arm"] == "B"]) is None  # Locust's, conservative


def test_aa_with_a_difference_is_invalid() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    s = analysis.summarize(rounds, ARMS)
    cs = analysis.comparisons_for(rounds, ["A", "B"], invalid_reason=None)
    assert not analysis.validity(rounds, s, aa=True, comparisons=cs)["valid"]
    same = two_arm_rounds((100, 102, 101, 99, 100, 101), (101, 100, 99, 102, 100, 100))
    cs2 = analysis.comparisons_for(same, ["A", "B"], invalid_reason=None)
    assert analysis.validity(same, analysis.summarize(same, ARMS), aa=True, comparisons=cs2)["valid"]


def test_aa_not_shown_equivalent_is_invalid() -> None:
    # no significant difference, but the interval reaches past the margin: sameness is not shown
    wide = two_arm_rounds((100, 130, 80, 110), (120, 90, 105, 95))
    cs = analysis.comparisons_for(wide, ["A", "B"], invalid_reason=None)
    v = analysis.validity(wide, analysis.summarize(wide, ARMS), aa=True, comparisons=cs)
    assert not v["valid"]
    assert "not shown equivalent" in v["reasons"][0]
    assert f"margin ±{plans.DEFAULT.margin('rps'):.0%}" in v["reasons"][0]


def test_rate_limited_arm_is_judged_on_accepted_throughput() -> None:
    arms = [{"name": "L", "server": "uvicorn", "workers": 1, "expected_429_fraction": 0.75,
             "bound": {"kind": "rate_limit", "rps": 50.0, "explanation": "z"}}]
    rounds = [make_round(i, "L", 200.0, 5.0, requests=1000, rate_limited=750) for i in range(3)]
    s = analysis.summarize(rounds, arms)["L"]
    assert s["rate_limited_fraction"] == pytest.approx(0.75)
    assert s["accepted_rps_median"] == pytest.approx(50.0)
    assert s["measured_over_bound"] == pytest.approx(1.0)
    assert s["expected_429_fraction_at_measured_load"] == pytest.approx(0.75)


def test_noisy_neighbours_are_noted_not_invalidating() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[2]["other_cpu_percent"] = 150.0
    v = analysis.validity(rounds, analysis.summarize(rounds, ARMS))
    assert v["valid"]
    assert any("other processes" in n for n in v["notes"])


def test_rounds_with_replaced_server_processes_are_noted_not_left_out() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 140))
    rounds[-1]["server_processes_changed"] = {"gone": [11, 12], "new": [13, 14]}
    rounds[0]["server_processes_changed"] = {"gone": [11], "new": [12]}  # a warm-up: not noted
    v = analysis.validity(rounds, analysis.summarize(rounds, ARMS))
    assert v["valid"]
    replaced = [n for n in v["notes"] if "server processes replaced" in n]
    assert len(replaced) == 1, v["notes"]
    assert replaced[0].startswith("1 measured round(s)")
    assert f"round {rounds[-1]['index']} (B): 2 gone, 2 new" in replaced[0]
    assert analysis.summarize(rounds, ARMS)["B"]["rounds"] == 3  # still counted


def test_checks_are_summed_over_measured_rounds() -> None:
    rounds = two_arm_rounds((100, 110), (100, 110))
    rounds[0]["counters"] = {"cache_mismatches": 99}  # warm-up
    rounds[2]["counters"] = {"cache_mismatches": 2, "users_ready": 20}
    rounds[3]["counters"] = {"cache_mismatches": 1}
    assert analysis.aggregate_checks(rounds)["cache_mismatches"] == 3


def test_equivalence_is_the_tost_interval_not_the_95_percent_one() -> None:
    # 4 vs 4 rounds: the 95% interval is [min, max] of the 16 round ratios (97.1%), past the +-12%
    # margin through one pair; the TOST interval at 5% a side (94.3%) drops that pair and lies inside.
    rounds = two_arm_rounds((100, 100, 100, 108), (100, 100, 100, 92))
    c = analysis.compare(rounds, "B", "A", "rps", plan=plans.DEFAULT)
    assert c["low"] < 1 / 1.12
    assert c["equivalence"]["low"] >= 1 / 1.12
    assert c["equivalence"]["high"] <= 1.12
    assert c["equivalence"]["confidence"] == pytest.approx(0.9429, abs=1e-4)
    assert c["equivalence"]["alpha"] == 0.05
    assert c["verdict"] == analysis.EQUIVALENT
    # the same spread twice over is not shown the same: "no significant difference" (invalid A/A)
    wider = two_arm_rounds((100, 100, 108, 108), (100, 100, 92, 92))
    assert analysis.compare(wider, "B", "A", "rps", plan=plans.DEFAULT)["verdict"] == analysis.NO_DIFFERENCE
