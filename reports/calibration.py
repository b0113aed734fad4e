"""Simulated A/A and A/B trials through the production statistics, per plan and metric kind.

A plan (``reports.plans``) promises three things about its comparisons: identical arms are called
different at most at the interval's nominal rate; identical arms are shown equivalent within the
plan's margin; and an effect of the plan's minimum detectable effect (MDE) is detected with at least
80% power. This module measures all three the way production decides them
(``reports.stats.decide`` over ``reports.stats.ratio_ci``, as ``load.analysis`` calls them), on
rounds drawn from the plan's declared noise model:

* ``rps``: one value per round, log-normal around the arm's level with the plan's between-round
  spread, plus a contaminated round now and then (a neighbour's burst: 1 round in 20 loses a
  further 10%);
* latency percentiles: every round draws ``requests`` response times (log-normal, a realistic tail),
  shifted by a per-round scale jitter, rounded into Locust's buckets (integer ms below 100 ms, 10 ms
  below 1 s, 100 ms below 10 s) and read off with Locust's own percentile rule, so ties and coarse
  steps are what the test sees.

``harness compare``'s plans (``reports.plans.COMPARE_PLANS``) are simulated the same way, four metrics
per run (rps, p50, p95, p99), each judged by compare's own ``harness.compare_report.verdict``, so the
rate at which a run exits 1 is measured as compare would produce it.

Seeds are fixed: the figures in docs/reports.md are reproduced by ``python -m reports.calibration``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from harness.compare_report import COMPARED, family_confidence, verdict
from reports.gates import OPS, baseline_limit, baseline_outcome, effective_threshold
from reports.gatespec import GateSpec, load_gates
from reports.metrics import ArmRounds
from reports.plans import COMPARE_PLANS, METRICS, PLANS, ComparePlan, Plan
from reports.stats import EQUIVALENT, decide, equivalence_ci, ratio_ci

Floats = npt.NDArray[np.float64]
POWER = 0.80
TRIALS = 1000
CONTAMINATION = (0.05, 0.10)  # share of rounds hit by a neighbour, and how much they lose
PERCENTILE_Q = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
# What rounds record since the harness's histogram (load.latency.RELATIVE_WIDTH; reports never imports
# load, tests/reports/test_calibration.py checks that the two agree).
FINE_RESOLUTION = 0.005
AnyPlan = Plan | ComparePlan  # what the noise model draws rounds for


def locust_bucket(ms: Floats) -> Floats:
    """Locust's ``bucket_response_time``, vectorised (round-half-even, as Python's ``round``)."""
    return np.where(ms < 100, np.round(ms), np.where(ms < 1000, np.round(ms, -1),
                    np.where(ms < 10000, np.round(ms, -2), np.round(ms, -3))))


def fine_bucket(ms: Floats, resolution: float) -> Floats:
    """``load.latency``'s buckets (log-spaced, ``resolution`` wide), read at their geometric centre."""
    step = float(np.log1p(resolution))
    centres: Floats = np.exp((np.floor(np.log(np.maximum(ms, 1e-3)) / step) + 0.5) * step)
    return centres


def locust_percentile(rounded: Floats, q: float) -> Floats:
    """Locust's ``calculate_response_time_percentile`` over the last axis: walking the buckets from
    the slowest down, the first whose faster requests number at most int(N*q), i.e. sorted[int(N*q)]."""
    n = rounded.shape[-1]
    j = min(int(n * q), n - 1)
    return np.partition(rounded, j, axis=-1)[..., j]


def rps_rounds(rng: np.random.Generator, plan: AnyPlan, ratio: float, trials: int) -> Floats:
    """(trials, rounds) rps of one arm at ``ratio`` times the reference level of 1000 rps."""
    sigma = plan.noise.rps_sigma
    values = 1000.0 * ratio * np.exp(rng.normal(0.0, sigma, (trials, plan.rounds)))
    hit = rng.random((trials, plan.rounds)) < CONTAMINATION[0]
    return np.where(hit, values * (1.0 - CONTAMINATION[1]), values)


_INV_CDF = np.vectorize(NormalDist().inv_cdf, otypes=[float])


def percentile_rounds(rng: np.random.Generator, plan: AnyPlan, ratio: float, q: float, trials: int,
                      resolution: float | None = None) -> Floats:
    """(trials, rounds) Locust-rounded q-percentiles of one arm whose latencies are ``ratio`` times the reference.

    ``resolution``: read from ``load.latency``'s histogram of that relative width instead of Locust's
    buckets (the harness's driver does since it has one; results from before carry Locust's).

    Locust's percentile of a round is the order statistic sorted[int(N*q)] of its bucketed times, and
    bucketing is monotone, so it is the bucket of that order statistic of the raw times. Of N uniform
    draws the (j+1)-th smallest is Beta(j+1, N-j): drawing it directly gives the exact distribution of
    the round's percentile without drawing N response times (``locust_percentile`` of full draws
    agrees; tests/reports/test_calibration.py checks both ways)."""
    noise = plan.noise
    j = min(int(noise.requests * q), noise.requests - 1)
    u = rng.beta(j + 1, noise.requests - j, (trials, plan.rounds))
    scale = noise.median_ms * ratio * np.exp(rng.normal(0.0, noise.latency_round_sigma, (trials, plan.rounds)))
    raw = scale * np.exp(noise.latency_shape * _INV_CDF(u))
    return locust_bucket(raw) if resolution is None else fine_bucket(raw, resolution)


def percentile_rounds_full(rng: np.random.Generator, plan: AnyPlan, ratio: float, q: float, trials: int) -> Floats:
    """The same by brute force: every response time drawn, bucketed and read off as Locust does."""
    noise = plan.noise
    scale = noise.median_ms * ratio * np.exp(rng.normal(0.0, noise.latency_round_sigma, (trials, plan.rounds, 1)))
    times = scale * np.exp(rng.normal(0.0, noise.latency_shape, (trials, plan.rounds, noise.requests)))
    return locust_percentile(locust_bucket(times), q)


def draw(metric: str, resolution: float | None = None) -> Callable[[np.random.Generator, AnyPlan, float, int], Floats]:
    if metric == "rps":
        return rps_rounds
    q = PERCENTILE_Q[metric]
    return lambda rng, plan, ratio, trials: percentile_rounds(rng, plan, ratio, q, trials, resolution)


@dataclass(frozen=True)
class Rates:
    trials: int
    significant: float  # verdict "higher"/"lower" (a difference claimed)
    equivalent: float  # TOST interval inside the margin
    confidence: float  # the attained confidence of the intervals
    equivalence_confidence: float = 0.0  # the attained two-sided level of the TOST interval

    @property
    def equivalence_alpha(self) -> float:
        """The attained level of each one-sided test of the TOST: its false-equivalence rate at the margin."""
        return (1.0 - self.equivalence_confidence) / 2.0

    @property
    def se_nominal(self) -> float:
        """Standard error of a rate at the interval's nominal false-significant rate."""
        alpha = 1.0 - self.confidence
        return float(np.sqrt(alpha * (1 - alpha) / self.trials))


def trial_rates(plan: Plan, metric: str, ratio: float, *, trials: int = TRIALS, seed: int = 0,
                resolution: float | None = None) -> Rates:
    """Run ``trials`` comparisons of arm B (``ratio`` x arm A) against arm A through production code.
    ``resolution``: percentiles from ``load.latency``'s histogram of that width, else Locust's buckets."""
    rng = np.random.default_rng(seed)
    sample = draw(metric, resolution)
    a, b = sample(rng, plan, 1.0, trials), sample(rng, plan, ratio, trials)
    margin = plan.margin(metric)
    significant = equivalent = 0
    confidence = eq_confidence = 1.0
    resolutions = (resolution, resolution)
    for xa, xb in zip(a, b, strict=True):
        ci = ratio_ci(xa.tolist(), xb.tolist(), bucketed=metric != "rps", resolutions=resolutions)
        eq = equivalence_ci(xa.tolist(), xb.tolist(), bucketed=metric != "rps", resolutions=resolutions)
        verdict = decide(ci, margin, eq)
        significant += verdict in ("numerator higher", "numerator lower")
        equivalent += verdict == EQUIVALENT
        confidence, eq_confidence = ci.confidence, eq.confidence
    return Rates(trials, significant / trials, equivalent / trials, confidence, eq_confidence)


def false_equivalence(plan: Plan, metric: str, *, trials: int = TRIALS, seed: int = 4) -> Rates:
    """Arms that truly differ by exactly the margin (rps lower, latency higher): the TOST promises to
    call them equivalent at most at its one-sided level."""
    m = plan.margin(metric)
    return trial_rates(plan, metric, 1.0 / (1.0 + m) if metric == "rps" else 1.0 + m, trials=trials, seed=seed)


def aa_validity(plan: Plan, *, trials: int = TRIALS, seed: int = 5, resolution: float | None = None) -> float:
    """Share of simulated A/A runs that ``load.analysis.validity`` finds valid: every compared metric
    shown equivalent, none significantly different. Rounds are drawn per metric from the plan's noise
    (the metrics of one round are drawn independently) and go through the production comparison.
    ``resolution``: percentiles from ``load.latency``'s histogram (recorded in the rounds, as the
    driver does), else from Locust's buckets."""
    from load import analysis  # the run-level decision lives with the runner; imported late, no cycle

    rng = np.random.default_rng(seed)
    arms = ("A", "A_b")
    draws = {metric: (draw(metric, resolution)(rng, plan, 1.0, trials),
                      draw(metric, resolution)(rng, plan, 1.0, trials)) for metric in METRICS}
    recorded = {} if resolution is None else {"latency_resolution": resolution}
    summary = {arm: {"rounds": plan.rounds, "error_rate": 0.0} for arm in arms}
    valid = 0
    for t in range(trials):
        rounds = [{"arm": arm, "warmup": False, "saturated": False, "requests": plan.noise.requests, **recorded,
                   **{metric: float(draws[metric][side][t, i]) for metric in METRICS}}
                  for i in range(plan.rounds) for side, arm in enumerate(arms)]
        comparisons = analysis.comparisons_for(rounds, arms, invalid_reason=None, plan=plan)
        valid += analysis.validity(rounds, summary, aa=True, comparisons=comparisons)["valid"]
    return valid / trials


def power(plan: Plan, metric: str, effect: float, *, trials: int = TRIALS, seed: int = 1) -> float:
    """Share of trials in which a true change of ``effect`` (rps down, latency up) is called a difference."""
    ratio = 1.0 - effect if metric == "rps" else 1.0 + effect
    return trial_rates(plan, metric, ratio, trials=trials, seed=seed).significant


GATES_TOML = Path(__file__).resolve().parent.parent / "gates.toml"
_SIM_METRIC = {"rps": "rps", "p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}


@dataclass(frozen=True)
class GateRates:
    """How a shipped gate decides on simulated rounds: at the edge of its claim, and past it by the MDE."""

    gate: str
    plan: str
    claim: str
    false_rate: float  # the gate's wrong call at the edge of its claim (false pass or false fail)
    bound: float  # nominal one-sided rate + 2 SE
    power: float  # the right call at the claimed effect
    effect: str


def shipped_gates(path: Path = GATES_TOML) -> list[GateSpec]:
    """Relative and baseline gates of ``gates.toml`` on metrics the noise model simulates."""
    return [g for g in load_gates(path) if g.kind in ("relative", "baseline") and g.metric.name in _SIM_METRIC]


def _outcomes(plan: Plan, metric: str, ratio: float, trials: int, seed: int,
              judge: Callable[[float, float], bool], resolution: float | None = None) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    sample = draw(metric, resolution)
    a, b = sample(rng, plan, 1.0, trials), sample(rng, plan, ratio, trials)
    hits, confidence = 0, 1.0
    for xa, xb in zip(a, b, strict=True):
        ci = ratio_ci(xa.tolist(), xb.tolist(), bucketed=metric != "rps", resolutions=(resolution, resolution))
        hits += judge(ci.low, ci.high)
        confidence = ci.confidence
    return hits / trials, confidence


def gate_rates(plan: Plan, gate: GateSpec, *, trials: int = TRIALS, resolution: float | None = None) -> GateRates:
    """Simulate ``gate`` on ``plan``'s rounds through the production decision rules (``reports.gates``).
    ``resolution``: percentiles at ``load.latency``'s resolution, else in Locust's buckets (older results).

    relative ``ratio >= t``: a false pass when the true ratio is the (margin-adjusted) threshold,
    power to pass when it is past it by the plan's MDE. baseline ``max_regression r``: a false fail
    when the true change is exactly the allowance, power to fail when it is the MDE beyond it.
    """
    metric = _SIM_METRIC[gate.metric.name]
    mde = plan.mde(metric)
    margin = plan.margin(metric)
    if gate.kind == "relative":
        assert gate.op is not None
        assert gate.threshold is not None
        op = gate.op
        t = effective_threshold(op, gate.threshold, margin)
        up = op in (">", ">=")

        def passes(low: float, high: float) -> bool:
            return bool(OPS[op](low if up else high, t))

        edge, claimed = t, t * (1 + mde) if up else t / (1 + mde)
        false_rate, conf = _outcomes(plan, metric, edge, trials, 2, passes, resolution)
        power_rate, _ = _outcomes(plan, metric, claimed, trials, 3, passes, resolution)
        claim = f"{gate.expr} (judged at {op} {t:.3g})"
        effect = f"true ratio {claimed:.3g}"
    else:
        assert gate.max_regression is not None
        higher = gate.metric.higher_is_better
        limit = baseline_limit(gate.max_regression, margin, higher_is_better=higher)

        def fails(low: float, high: float) -> bool:
            return baseline_outcome(low, high, limit, higher_is_better=higher) == "fail"

        claimed = limit * (1 - mde) if higher else limit * (1 + mde)
        false_rate, conf = _outcomes(plan, metric, limit, trials, 2, fails, resolution)
        power_rate, _ = _outcomes(plan, metric, claimed, trials, 3, fails, resolution)
        claim = f"{gate.profile}: {gate.metric.name} regresses at most {max(gate.max_regression, margin):.0%}"
        effect = f"current/baseline {claimed:.3g}"
    alpha = (1.0 - conf) / 2.0  # one side of the interval decides
    bound = alpha + 2 * float(np.sqrt(alpha * (1 - alpha) / trials))
    return GateRates(gate.name, plan.name, claim, false_rate, bound, power_rate, effect)


@dataclass(frozen=True)
class CompareRates:
    """How ``harness compare``'s verdicts come out over simulated runs of one plan."""

    trials: int
    fail: dict[str, float]  # per metric: share of runs whose verdict is fail
    passed: dict[str, float]
    any_fail: float  # share of runs that exit 1 (some metric failed)
    all_pass: float  # share of runs whose every verdict is pass
    attained: dict[str, float]  # the confidence each metric's interval attains

    def bound(self, metric: str | None = None) -> float:
        """Nominal false-fail rate + 2 SE: one side of one interval, or (``None``) the family's sum."""
        alpha = (sum((1 - c) / 2 for c in self.attained.values()) if metric is None
                 else (1 - self.attained[metric]) / 2)
        return alpha + 2 * float(np.sqrt(alpha * (1 - alpha) / self.trials))


def regression(metric: str, r: float) -> float:
    """The head/base ratio of a regression by ``r`` on compare's ``metric`` (rps falls, latency rises)."""
    return 1.0 - r if metric == "rps" else 1.0 + r


def compare_rates(plan: ComparePlan, ratios: dict[str, float], *, trials: int = TRIALS, seed: int = 4,
                  confidence: float | None = None, resolution: float | None = None) -> CompareRates:
    """``trials`` simulated compare runs, head = ``ratios[metric]`` x base, through compare's verdict rule
    (``harness.compare_report.verdict``) at its family confidence (or ``confidence`` per interval).
    ``resolution``: percentiles from ``load.latency``'s histogram of that width (what compare's rounds
    record now), else Locust's buckets (results from before it)."""
    rng = np.random.default_rng(seed)
    level = family_confidence(len(COMPARED)) if confidence is None else confidence
    rounds = {}
    for m in COMPARED:
        sample = draw(_SIM_METRIC[m], resolution)
        rounds[m] = (sample(rng, plan, 1.0, trials), sample(rng, plan, ratios[m], trials))
    fails: dict[str, int] = dict.fromkeys(COMPARED, 0)
    passes: dict[str, int] = dict.fromkeys(COMPARED, 0)
    attained: dict[str, float] = dict.fromkeys(COMPARED, 1.0)
    any_fail = all_pass = 0
    for i in range(trials):
        outcomes = []
        for m in COMPARED:
            v = verdict(m, ArmRounds(rounds[m][0][i].tolist(), resolution),
                        ArmRounds(rounds[m][1][i].tolist(), resolution), plan.max_regression, level)
            fails[m] += v.outcome == "fail"
            passes[m] += v.outcome == "pass"
            attained[m] = v.confidence if v.confidence is not None else attained[m]
            outcomes.append(v.outcome)
        any_fail += "fail" in outcomes
        all_pass += all(o == "pass" for o in outcomes)
    return CompareRates(trials, {m: n / trials for m, n in fails.items()}, {m: n / trials for m, n in passes.items()},
                        any_fail / trials, all_pass / trials, attained)


def compare_table(trials: int = TRIALS, resolution: float | None = FINE_RESOLUTION) -> list[dict[str, object]]:
    """Every compare plan: A/A and at-the-allowance false fails, and the power at its declared ``detects``."""
    rows: list[dict[str, object]] = []
    for plan in COMPARE_PLANS.values():
        aa = compare_rates(plan, dict.fromkeys(COMPARED, 1.0), trials=trials, resolution=resolution)
        edge = compare_rates(plan, {m: regression(m, plan.max_regression) for m in COMPARED}, trials=4 * trials,
                             seed=5, resolution=resolution)
        detect = compare_rates(plan, dict(plan.detects), trials=trials, seed=6, resolution=resolution)
        rows.append({"plan": plan.name, "rounds": plan.rounds, "round_seconds": plan.round_seconds,
                     "attained": min(aa.attained.values()), "aa_fail": aa.any_fail, "aa_pass": aa.all_pass,
                     "edge_fail": edge.any_fail, "bound": edge.bound(), "detects": dict(plan.detects),
                     "power": detect.fail})
    return rows


def table(trials: int = TRIALS) -> list[dict[str, object]]:
    """Every shipped plan x metric: A/A false-significant and equivalence rates, power at the MDE."""
    rows: list[dict[str, object]] = []
    for plan in PLANS.values():
        for metric in METRICS:
            aa = trial_rates(plan, metric, 1.0, trials=trials)
            fe = false_equivalence(plan, metric, trials=trials)
            alpha = fe.equivalence_alpha
            rows.append({"plan": plan.name, "rounds": plan.rounds, "metric": metric,
                         "confidence": aa.confidence, "false_significant": aa.significant,
                         "bound": 1.0 - aa.confidence + 2 * aa.se_nominal, "aa_equivalent": aa.equivalent,
                         "tost_alpha": alpha, "false_equivalent": fe.equivalent,
                         "fe_bound": alpha + 2 * float(np.sqrt(alpha * (1 - alpha) / trials)),
                         "margin": plan.margin(metric), "mde": plan.mde(metric),
                         "power_at_mde": power(plan, metric, plan.mde(metric), trials=trials)})
    return rows


def main() -> int:
    print("| plan | rounds/arm | metric | attained confidence | A/A false-significant (bound) | "
          "A/A equivalent within margin | TOST level a side | equivalent at a true difference of the "
          "margin (bound) | margin | MDE | power at MDE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in table():
        print(f"| {r['plan']} | {r['rounds']} | {r['metric']} | {r['confidence']:.1%} | "
              f"{r['false_significant']:.1%} (<= {r['bound']:.1%}) | {r['aa_equivalent']:.1%} | "
              f"{r['tost_alpha']:.1%} | {r['false_equivalent']:.1%} (<= {r['fe_bound']:.1%}) | "
              f"±{r['margin']:.0%} | {r['mde']:.0%} | {r['power_at_mde']:.1%} |")
    print()
    print("| plan | rounds/arm | noise (rps / latency log-sd between rounds) | whole A/A check valid |")
    print("|---|---|---|---|")
    for plan in PLANS.values():
        print(f"| {plan.name} | {plan.rounds} | {plan.noise.rps_sigma:.0%} / {plan.noise.latency_round_sigma:.0%} | "
              f"{aa_validity(plan):.1%} |")
    print()
    print("| gate | plan | judged as | wrong call at the edge (bound) | power | at |")
    print("|---|---|---|---|---|---|")
    for plan in PLANS.values():
        for gate in shipped_gates():
            g = gate_rates(plan, gate)
            print(f"| {g.gate} | {g.plan} | {g.claim} | {g.false_rate:.1%} (<= {g.bound:.1%}) | "
                  f"{g.power:.1%} | {g.effect} |")
    print()
    print("| compare plan | rounds/side | interval (attained) | A/A: any fail (all pass) | every metric at +10 %: "
          "any fail (bound) | fails with >= 80 % power at head/base | power there (rps, p50, p95, p99) |")
    print("|---|---|---|---|---|---|---|")
    for c in compare_table():
        detects = c["detects"]
        power_at = c["power"]
        assert isinstance(detects, dict)
        assert isinstance(power_at, dict)
        print(f"| {c['plan']} | {c['rounds']} x {c['round_seconds']:g} s | {c['attained']:.1%} | "
              f"{c['aa_fail']:.1%} ({c['aa_pass']:.1%}) | {c['edge_fail']:.1%} (<= {c['bound']:.1%}) | "
              f"rps {detects['rps']:g}, p50 {detects['p50']:g}, p95 {detects['p95']:g}, p99 {detects['p99']:g} | "
              f"{', '.join(f'{power_at[m]:.0%}' for m in COMPARED)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
