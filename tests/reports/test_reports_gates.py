"""Gate evaluation: absolute, relative (decided on the CI bound) and baseline (pass/fail/inconclusive)."""

from __future__ import annotations

from typing import Any

import pytest

from harness import exitcodes
from reports.gates import evaluate, evaluate_gate
from reports.gatespec import GateSpecError, parse_gates
from reports.results import RunSet
from reports.stats import ratio_ci
from tests.utils.results_factory import Arm, make_results, with_measured


def gate(text: str, runset: RunSet, baseline: RunSet | None = None):  # type: ignore[no-untyped-def]
    (spec,) = parse_gates(text)
    return evaluate_gate(spec, runset, baseline)


def absolute(expr: str, **extra: str) -> str:
    lines = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return f'[[gate]]\nkind = "absolute"\nprofile = "io"\nexpr = "{expr}"\n{lines}'


def relative(expr: str) -> str:
    return f'[[gate]]\nkind = "relative"\nprofile = "io"\nexpr = "{expr}"\n'


def baseline_gate(metric: str, max_regression: str) -> str:
    return f'[[gate]]\nkind = "baseline"\nprofile = "io"\nmetric = "{metric}"\nmax_regression = "{max_regression}"\n'


@pytest.fixture
def io(io_results: dict[str, Any]) -> RunSet:
    return RunSet.from_docs([io_results])


# --- absolute ---------------------------------------------------------------------------------


def test_absolute_pass_and_fail(io: RunSet) -> None:
    assert gate(absolute("p95 < 200ms", arm="io_async"), io).outcome == "pass"  # p95 ~ 50 ms
    failed = gate(absolute("p95 < 100ms"), io)  # io_sync p95 ~ 150 ms
    assert failed.outcome == "fail"
    assert {c.arm: c.outcome for c in failed.checks} == {"io_async": "pass", "io_sync": "fail"}
    assert gate(absolute("rps > 100", arm="io_async"), io).outcome == "pass"
    assert gate(absolute("error_rate < 0.1%"), io).outcome == "pass"
    assert gate(absolute("measured_over_bound >= 0.7"), io).outcome == "pass"


def test_absolute_on_error_rate_and_request_name() -> None:
    runset = RunSet.from_docs(
        [make_results({"a": Arm(error_rate=0.02, requests_by_name={"GET /x": 1.0})}, profile="io")]
    )
    assert gate(absolute("error_rate < 1%"), runset).outcome == "fail"
    assert gate(absolute("error_rate < 5%", request="GET /x"), runset).outcome == "pass"
    with pytest.raises(GateSpecError, match="request name 'GET /nope' not recorded"):
        gate(absolute("p95 < 1s", request="GET /nope"), runset)


def test_unknown_arm_is_a_usage_error(io: RunSet) -> None:
    with pytest.raises(GateSpecError, match="has no arm 'nope'"):
        gate(absolute("p95 < 1s", arm="nope"), io)


def test_gate_for_an_absent_profile_is_skipped(io: RunSet) -> None:
    result = gate('[[gate]]\nkind = "absolute"\nprofile = "cpu"\nexpr = "p95 < 1s"\n', io)
    assert result.outcome == "skipped"


# --- relative ---------------------------------------------------------------------------------


def runset_with_values(numerator: list[float], denominator: list[float]) -> RunSet:
    return RunSet.from_docs(
        [
            make_results(
                {"io_async": Arm(values=numerator), "io_sync": Arm(values=denominator)},
                rounds=len(numerator),
            )
        ]
    )


def test_relative_passes_when_ci_lower_bound_clears(io: RunSet) -> None:
    result = gate(relative("rps[io_async] / rps[io_sync] >= 3"), io)
    assert result.outcome == "pass"
    (check,) = result.checks
    assert check.low is not None
    assert check.low >= 3


def test_relative_fails_when_only_point_estimate_clears() -> None:
    runset = runset_with_values([200, 250, 300, 310, 320, 330, 400, 450], [100] * 8)
    result = gate(relative("rps[io_async] / rps[io_sync] >= 3"), runset)
    (check,) = result.checks
    assert check.value is not None
    assert check.low is not None
    assert check.value >= 3 > check.low  # the premise: point estimate clears, CI doesn't
    assert result.outcome == "fail"
    assert "only the point estimate clears it" in result.detail


def test_relative_upper_bound_decides_for_less_than(io: RunSet) -> None:
    # p95 of async / sync ~ 1/3: the CI upper bound must be below the threshold
    assert gate(relative("p95[io_async] / p95[io_sync] <= 0.5"), io).outcome == "pass"
    assert gate(relative("p95[io_async] / p95[io_sync] <= 0.2"), io).outcome == "fail"


def test_must_fail_relative_gate(io: RunSet) -> None:
    assert gate(relative("rps[io_async] / rps[io_sync] >= 100"), io).outcome == "fail"


# --- baseline ---------------------------------------------------------------------------------


def baseline_pair(current: dict[str, Arm], base: dict[str, Arm], *, seed: int = 0) -> tuple[RunSet, RunSet]:
    return (
        RunSet.from_docs([make_results(current, seed=seed + 1000)]),
        RunSet.from_docs([make_results(base, seed=seed)]),
    )


def test_baseline_pass_within_allowed_regression() -> None:
    cur, base = baseline_pair({"io_async": Arm(noise=0.01)}, {"io_async": Arm(noise=0.01)})
    assert gate(baseline_gate("p95", "10%"), cur, base).outcome == "pass"
    assert gate(baseline_gate("rps", "10%"), cur, base).outcome == "pass"


def test_baseline_fail_when_whole_ci_beyond() -> None:
    cur, base = baseline_pair(
        {"io_async": Arm(p50_ms=40, rps=50, noise=0.02)}, {"io_async": Arm(p50_ms=20, rps=100, noise=0.02)}
    )
    assert gate(baseline_gate("p95", "10%"), cur, base).outcome == "fail"
    assert gate(baseline_gate("rps", "10%"), cur, base).outcome == "fail"


def test_baseline_inconclusive_when_ci_straddles() -> None:
    base_values = [99, 100, 101, 100, 99, 101, 100, 100]
    cur_values = [88, 92, 86, 94, 90, 89, 91, 87]
    ci = ratio_ci(base_values, cur_values)
    assert ci.low < 0.9 < ci.high  # the premise
    cur, base = baseline_pair({"io_async": Arm(values=cur_values)}, {"io_async": Arm(values=base_values)})
    result = gate(baseline_gate("rps", "10%"), cur, base)
    assert result.outcome == "inconclusive"
    assert "straddles" in result.detail


def test_baseline_without_baseline_is_skipped(io: RunSet) -> None:
    assert gate(baseline_gate("p95", "10%"), io, None).outcome == "skipped"


def test_aa_identical_run_never_fails(io: RunSet) -> None:
    for metric in ("rps", "p50", "p95", "p99", "p999", "server_rss_mb"):
        result = gate(baseline_gate(metric, "0%"), io, io)
        assert result.outcome != "fail", (metric, result.detail)


@pytest.mark.parametrize("seed", range(15))
def test_aa_same_distribution_never_fails(seed: int) -> None:
    arms = {"io_async": Arm(rps=300, noise=0.05), "io_sync": Arm(rps=100, noise=0.08)}
    cur, base = baseline_pair(arms, arms, seed=seed)
    for metric in ("rps", "p95", "p99"):
        result = gate(baseline_gate(metric, "10%"), cur, base)
        assert result.outcome != "fail", (metric, result.detail)


# --- overall ----------------------------------------------------------------------------------


def test_invalid_run_overrides_gates() -> None:
    runset = RunSet.from_docs([make_results(valid=False, reasons=["generator saturated"])])
    evaluation = evaluate(parse_gates(absolute("rps > 1")), runset)
    assert [g.outcome for g in evaluation.gates] == ["pass"]
    assert evaluation.outcome == "invalid"
    assert evaluation.exit_code == exitcodes.INVALID_RUN


def test_inconclusive_exit_code_depends_on_strictness() -> None:
    cur, base = baseline_pair(
        {"io_async": Arm(values=[88, 92, 86, 94, 90, 89, 91, 87])},
        {"io_async": Arm(values=[99, 100, 101, 100, 99, 101, 100, 100])},
    )
    specs = parse_gates(baseline_gate("rps", "10%"))
    assert evaluate(specs, cur, base).exit_code == exitcodes.OK
    strict = evaluate(specs, cur, base, strict_inconclusive=True)
    assert strict.outcome == "inconclusive"
    assert strict.exit_code == exitcodes.GATE_FAILED


# --- the plan's margin ----------------------------------------------------------------------------


def test_a_difference_inside_the_margin_never_passes_as_one() -> None:
    # 5% faster, measured precisely: the CI excludes 1, but a '> 1' claim is judged at the margin (+12%)
    doc = make_results({"a": Arm(values=[100, 101, 99, 100, 100, 101]),
                        "b": Arm(values=[105, 106, 104, 105, 105, 106])}, profile="io")
    runset = RunSet.from_docs([doc])
    drift = gate(relative("rps[b] / rps[a] > 1"), runset)
    assert drift.checks[0].low is not None
    assert drift.checks[0].low > 1.0
    assert drift.outcome == "fail"
    assert "lies inside it" in drift.detail
    assert "plan MDE 12%" in drift.detail
    real = RunSet.from_docs([make_results({"a": Arm(values=[100, 101, 99, 100, 100, 101]),
                                           "b": Arm(values=[150, 151, 149, 150, 150, 151])}, profile="io")])
    assert gate(relative("rps[b] / rps[a] > 1"), real).outcome == "pass"
    # thresholds far from 1 claim a size, not a difference: unchanged
    assert gate(relative("rps[b] / rps[a] >= 0.5"), runset).detail.count("inside it") == 0


def test_baseline_allowance_is_never_finer_than_the_margin() -> None:
    base_values = [100, 101, 99, 100, 100, 101]
    cur_values = [93, 94, 92, 93, 93, 94]  # 7% slower: beyond a 5% allowance, within the 12% margin
    cur, base = baseline_pair({"io_async": Arm(values=cur_values)}, {"io_async": Arm(values=base_values)})
    result = gate(baseline_gate("rps", "5%"), cur, base)
    assert result.outcome == "pass"
    assert ">= 0.88" in result.detail


def test_absolute_on_a_profile_counter_sums_its_measured_rounds() -> None:
    """``counters.NAME``: what a locustfile counted (jobs lost, say), summed over each arm's measured rounds."""
    doc = make_results({"a": Arm(), "b": Arm()}, profile="io")
    for i, r in enumerate(doc["rounds"]):
        r["counters"] = {"jobs_lost": 1 if (r["arm"] == "b" and not r.get("warmup") and i % 2) else 0}
    runset = RunSet.from_docs([doc])
    failed = gate(absolute("counters.jobs_lost < 1"), runset)
    assert failed.outcome == "fail"
    assert {c.arm: c.outcome for c in failed.checks} == {"a": "pass", "b": "fail"}
    assert gate(absolute("counters.never_counted < 1"), runset).outcome == "pass"  # not counted: zero


# --- percentile resolution ----------------------------------------------------------------------

SLOW_P50 = [2.857, 3.854, 3.318, 4.388, 3.368, 4.216, 4.658, 2.872]
FAST_P50 = [1.824, 2.118, 1.975, 2.548, 2.732, 2.651, 1.879, 2.329]


def _p50_doc(values: dict[str, list[float]], resolution: float | None, seed: int = 0) -> dict[str, Any]:
    doc = make_results({arm: Arm(p50_ms=2.5, noise=0.02) for arm in values}, seed=seed)
    return with_measured(doc, "p50_ms", values, resolution=resolution)


@pytest.mark.parametrize("resolution", [0.005, None])
def test_relative_gate_widens_percentiles_by_the_resolution_the_rounds_record(resolution: float | None) -> None:
    """Rounds from the harness's histogram are known to 0.5 %, older ones to Locust's whole
    millisecond (+-25 % at 2 ms): the gate's interval is the one for the resolution recorded."""
    runset = RunSet.from_docs([_p50_doc({"io_async": SLOW_P50, "io_sync": FAST_P50}, resolution)])
    (check,) = gate(relative("p50[io_async] / p50[io_sync] >= 1"), runset).checks
    expected = ratio_ci(FAST_P50, SLOW_P50, bucketed=True, resolutions=(resolution, resolution))
    assert (check.low, check.high) == pytest.approx((expected.low, expected.high))
    assert (expected.low > 1.2) == (resolution is not None)  # the premise: the widening decides


@pytest.mark.parametrize("resolution", [0.005, None])
def test_baseline_gate_widens_percentiles_by_the_resolution_the_rounds_record(resolution: float | None) -> None:
    cur = RunSet.from_docs([_p50_doc({"io_async": SLOW_P50}, resolution, seed=1)])
    base = RunSet.from_docs([_p50_doc({"io_async": FAST_P50}, resolution)])
    result = gate(baseline_gate("p50", "10%"), cur, base)
    (check,) = result.checks
    expected = ratio_ci(FAST_P50, SLOW_P50, bucketed=True, resolutions=(resolution, resolution))
    assert (check.low, check.high) == pytest.approx((expected.low, expected.high))
    assert result.outcome == ("fail" if resolution is not None else "inconclusive")


def test_each_side_of_a_ratio_keeps_its_own_resolution() -> None:
    """A baseline from before load.latency (Locust's buckets) against a run that records 0.5 %:
    each side is widened by its own resolution, not the other's."""
    doc = _p50_doc({"io_async": SLOW_P50, "io_sync": FAST_P50}, 0.005)
    for row in doc["rounds"]:
        if row["arm"] == "io_sync":
            del row["latency_resolution"]
    (check,) = gate(relative("p50[io_async] / p50[io_sync] >= 1"), RunSet.from_docs([doc])).checks
    expected = ratio_ci(FAST_P50, SLOW_P50, bucketed=True, resolutions=(None, 0.005))
    swapped = ratio_ci(FAST_P50, SLOW_P50, bucketed=True, resolutions=(0.005, None))
    assert (expected.low, expected.high) != pytest.approx((swapped.low, swapped.high))  # the premise
    assert (check.low, check.high) == pytest.approx((expected.low, expected.high))
