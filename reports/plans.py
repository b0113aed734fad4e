"""The measurement plans the harness ships, and what each promises statistically.

A plan fixes how many measured rounds each arm gets, and with that what its comparisons can claim:
the confidence its intervals attain (``reports.stats``; exact Mann-Whitney intervals need 4 rounds
per arm to reach 95%: 3 vs 3 attain 90% at most), the practical *margin* within which two arms count
as the same (A/A validity is an equivalence test against it, and relative and baseline gates use
it), and the *minimum detectable effect* (MDE) it detects with 80% power. The margin and MDE are
claims about a machine's noise, so each plan declares the noise it was calibrated for;
tests/reports/test_calibration.py checks every claim by simulation (docs/reports.md has the figures).

Round lengths differ between entry points (``harness load run --quick``: 4 x 4 s; ``harness run
--quick``: 4 x 0.75 s), the round counts do not: they come from here. A plan added later is added to
``PLANS`` and is then calibrated by the same test.

``harness compare`` judges differently (head/base against an allowed regression, four metrics at a
Bonferroni-corrected level, no margin), so its plans are ``ComparePlan``s in ``COMPARE_PLANS``,
calibrated by the same test through compare's own verdict rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

METRICS = ("rps", "p95_ms", "p99_ms")  # what the load runner compares between arms


@dataclass(frozen=True, slots=True)
class Noise:
    """What one round looks like on the machine a plan is calibrated for (a 2-core box with neighbours)."""

    rps_sigma: float  # log-sd of an arm's rps between rounds
    latency_round_sigma: float  # log-sd of an arm's latency scale between rounds
    latency_shape: float  # log-sd of single response times within a round (the tail)
    median_ms: float  # typical response time (sets how coarse Locust's buckets are)
    requests: int  # requests per round (a percentile rests on N * (1 - q) of them)


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    rounds: int  # measured rounds per arm
    margins: Mapping[str, float]  # metric -> practical margin (ratio within [1/(1+m), 1+m] is "the same")
    mdes: Mapping[str, float]  # metric -> minimum detectable effect (80% power)
    noise: Noise

    def margin(self, metric: str) -> float:
        return self.margins[metric]

    def mde(self, metric: str) -> float:
        return self.mdes[metric]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "rounds": self.rounds, "margins": dict(self.margins), "mdes": dict(self.mdes)}


QUICK = Plan(
    "quick", rounds=4,
    margins={"rps": 0.20, "p95_ms": 0.30, "p99_ms": 0.35},
    mdes={"rps": 0.20, "p95_ms": 0.30, "p99_ms": 0.35},
    noise=Noise(rps_sigma=0.04, latency_round_sigma=0.05, latency_shape=0.4, median_ms=120.0, requests=1000),
)
DEFAULT = Plan(
    "default", rounds=6,
    margins={"rps": 0.12, "p95_ms": 0.18, "p99_ms": 0.20},
    mdes={"rps": 0.12, "p95_ms": 0.18, "p99_ms": 0.20},
    noise=Noise(rps_sigma=0.03, latency_round_sigma=0.04, latency_shape=0.4, median_ms=120.0, requests=2000),
)

#: The noise of a quiet 2-core machine, measured (not assumed) on the A/A arms of io, cache and
#: middleware (io_async, cached, full) in the quiet `make quick` and `make run` of 2026-12-05 00:54
#: (other processes < 10% of a core): between-round log-sd of rps 0.014-0.091 (0.75 s rounds) and
#: 0.023-0.035 (2 s); of p95 0-0.17 and p99 0-0.18 (io_async at 2 s: p95 210-320 ms around a 210 ms
#: median), RMS about 0.10. 4 s rounds should be no noisier (they average longer), so this is what a
#: quick A/A check must pass on. Latencies as modelled for the plans (120 ms median, 10 ms buckets).
QUIET = Noise(rps_sigma=0.05, latency_round_sigma=0.10, latency_shape=0.4, median_ms=120.0, requests=2000)

#: ``--quick --aa``: the quick plan's margins, judged on 10 rounds per arm instead of 4. An A/A check
#: passes only when all three metrics are shown equivalent at once. With 4 rounds the TOST interval is
#: the 2nd-smallest to 2nd-largest of 16 round ratios, which on quiet rounds (``QUIET``) lies inside
#: p95's +-30% only 44% of the time (all three metrics: 30%); 8 rounds pass all three 94%, 10 rounds
#: 98% (sensitivity: 99.8% at a latency log-sd of 0.08, 92% at 0.12; docs/reports.md). An A/A check
#: is a check of the set-up, run rarely, so it may take twice the quick plan's time (10 x 4 s per arm).
QUICK_AA = Plan(
    "quick-aa", rounds=10,
    margins=QUICK.margins,
    mdes=QUICK.mdes,
    noise=QUIET,
)
PLANS: dict[str, Plan] = {p.name: p for p in (QUICK, DEFAULT, QUICK_AA)}


def plan_for(quick: bool, aa: bool = False) -> Plan:
    """The plan of a run: A/A checks at the quick setting get ``QUICK_AA``'s rounds."""
    if quick:
        return QUICK_AA if aa else QUICK
    return DEFAULT


@dataclass(frozen=True, slots=True)
class ComparePlan:
    """A plan of ``harness compare`` (rounds per side, their length, the warm-up) and what it promises.

    Compare fails a metric when the whole head/base interval is beyond the allowed regression r, each
    interval at 1 - 0.05/4 (``harness.compare_report``). Promised, and checked by simulation on rounds
    drawn from ``noise``: a change within the allowance (A/A, or every metric exactly at r) fails any
    metric at most at the family's nominal rate (<= 2.5 %), and a regression to ``detects[metric]``
    (the head/base ratio: rps below 1, latencies above) fails with at least 80 % power at r =
    ``max_regression``. Smaller regressions beyond r are failed less often or called inconclusive.
    """

    name: str
    rounds: int  # measured rounds per side
    round_seconds: float
    warmup: float
    max_regression: float  # the allowance ``detects`` is stated for (compare's default)
    detects: Mapping[str, float]  # compare's metric (rps, p50, p95, p99) -> head/base failed with 80 % power
    noise: Noise


# Calibrated for what compare's measurements on this repository's shared 2-core machine showed
# (docs/compare.md, "Measured"): the built-in target's paced item read (10 users x 10 rps), p50 about
# 22 ms with a round-to-round log-sd of about 0.25 (neighbours' CPU share changes from second to
# second), rps log-sd about 0.08, p95 and p99 about 5 and 10-15 times the p50 (the model: 5 and 10).
# Many short rounds: the interval narrows with the number of rounds, and round-to-round noise is what
# such a machine has most of.
COMPARE_NOISE = Noise(rps_sigma=0.08, latency_round_sigma=0.25, latency_shape=1.0, median_ms=22.0,
                      requests=400)  # 4 s rounds at 100 rps
COMPARE_QUICK = ComparePlan(
    "compare-quick", rounds=5, round_seconds=4.0, warmup=2.0, max_regression=0.10,
    detects={"rps": 0.67, "p50": 2.6, "p95": 2.9, "p99": 3.2},
    noise=COMPARE_NOISE,
)
COMPARE_DEFAULT = ComparePlan(
    "compare-default", rounds=8, round_seconds=10.0, warmup=3.0, max_regression=0.10,
    detects={"rps": 0.75, "p50": 2.0, "p95": 2.2, "p99": 2.2},
    noise=dataclasses.replace(COMPARE_NOISE, requests=1000),  # 10 s rounds at 100 rps
)
COMPARE_PLANS: dict[str, ComparePlan] = {p.name: p for p in (COMPARE_QUICK, COMPARE_DEFAULT)}


def compare_plan_for(quick: bool) -> ComparePlan:
    return COMPARE_QUICK if quick else COMPARE_DEFAULT
