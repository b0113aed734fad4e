"""Confidence intervals for the ratios every comparison is judged on, with the confidence they attain.

Rounds of one arm are independent samples of a noisy machine, and there are few of them (3-5).
A percentile bootstrap over 3 rounds cannot keep a 95% promise (its "95% CI" of a ratio of medians
is just ``[min(b)/max(a), max(b)/min(a)]``, and it called identical arms different in 11% of
simulated A/A trials). So the ratio is the Hodges-Lehmann shift of the log values (the median of all
pairwise ``log b_j - log a_i``), and its interval is the exact distribution-free Mann-Whitney
interval: the k-th smallest and k-th largest pairwise difference, k taken from the exact null
distribution of U. Its coverage holds for any continuous distribution of rounds, at any n.

With few rounds the attainable confidence levels are coarse (3 vs 3 rounds: 90% at most; 4 vs 4:
97.1%; 5 vs 5: 96.8% for a 95% request). The interval returned never claims more than it attains:
``confidence`` is the attained level, which is what reports print. tests/reports/test_calibration.py
proves the promise by simulation for every shipped plan (docs/reports.md has the figures).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

DEFAULT_CONFIDENCE = 0.95
#: Equivalence ("the arms are the same within margin m") is the two one-sided tests (TOST, Schuirmann
#: 1987) at level alpha: each one-sided test rejects "the ratio is m or more beyond 1" at alpha, which
#: is the same as the (1 - 2 alpha) interval lying inside the margin. Taking the 95% interval instead
#: tests each side at 2.5% (at 4 rounds the only exact level >= 95% is [min, max], 1.4% a side): a
#: needlessly strict test whose A/A checks fail on quiet machines. The exact Mann-Whitney levels are
#: coarse, so the interval keeps each side at or below alpha (4 vs 4: 2.9% a side, 94.3% two-sided;
#: 6 vs 6: 4.8%, 90.7%; 8 vs 8: 4.2%, 91.7%): the chance of calling arms that differ by the margin
#: "equivalent" is at most alpha, which tests/reports/test_calibration.py checks.
EQUIVALENCE_ALPHA = 0.05
EQUIVALENCE_CONFIDENCE = 1.0 - 2.0 * EQUIVALENCE_ALPHA


@dataclass(frozen=True, slots=True)
class RatioCI:
    """``estimate`` is the Hodges-Lehmann ratio b/a; [low, high] its exact interval at ``confidence``."""

    estimate: float
    low: float
    high: float
    confidence: float  # attained, not requested
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        """True when the interval excludes 1 (no difference)."""
        return self.low > 1.0 or self.high < 1.0

    def within(self, margin: float) -> bool:
        """True when the whole interval lies inside the practical margin ``[1/(1+m), 1+m]``."""
        return self.low >= 1.0 / (1.0 + margin) and self.high <= 1.0 + margin

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "significant": self.significant,
        }


NO_DIFFERENCE = "no significant difference"
EQUIVALENT = "equivalent"
DIFFERENT = ("numerator higher", "numerator lower")


def verdict_from(low: float, high: float, margin: float = 0.0) -> str:
    """The verdict of an interval [low, high] of a ratio under a practical margin ``margin``:
    *equivalent* when it lies inside [1/(1+m), 1+m], a difference when it excludes 1 otherwise,
    else *no significant difference* (the data can't tell)."""
    if margin > 0 and low >= 1.0 / (1.0 + margin) and high <= 1.0 + margin:
        return EQUIVALENT
    if low > 1.0:
        return DIFFERENT[0]
    if high < 1.0:
        return DIFFERENT[1]
    return NO_DIFFERENCE


def decide(ci: RatioCI, margin: float, equivalence: RatioCI | None = None) -> str:
    """The verdict of a comparison: *equivalent* when the TOST interval ``equivalence`` (by default
    ``ci`` itself) lies inside the margin, else a difference when ``ci`` excludes 1, else none shown."""
    if equivalence is not None and margin > 0 and equivalence.within(margin):
        return EQUIVALENT
    return verdict_from(ci.low, ci.high, margin)


def equivalence_ci(a: Sequence[float], b: Sequence[float], *, bucketed: bool = False,
                   resolutions: tuple[float | None, float | None] = (None, None)) -> RatioCI:
    """The interval of the TOST equivalence test at ``EQUIVALENCE_ALPHA`` (each side at most alpha)."""
    return ratio_ci(a, b, confidence=EQUIVALENCE_CONFIDENCE, bucketed=bucketed, resolutions=resolutions)


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) rank arrangements give each value of the Mann-Whitney U (0..m*n).

    The textbook recursion on the largest observation (it belongs to one sample or the other):
    c(u; m, n) = c(u - n; m - 1, n) + c(u; m, n - 1).
    """
    if m == 0 or n == 0:
        return (1,)
    with_a = _u_counts(m - 1, n)  # the largest value is an a: it exceeds all n b's
    with_b = _u_counts(m, n - 1)
    out = [0] * (m * n + 1)
    for u, c in enumerate(with_a):
        out[u + n] += c
    for u, c in enumerate(with_b):
        out[u] += c
    return tuple(out)


def mw_rank(m: int, n: int, confidence: float) -> tuple[int, float]:
    """(k, attained): the interval [d_(k), d_(mn+1-k)] of the m*n sorted pairwise differences has
    exact coverage ``attained`` = 1 - 2 P(U <= k-1) under the shift model; k is the largest with
    attained >= ``confidence``, or 1 (the widest interval, [min, max]) when even that falls short."""
    counts = _u_counts(m, n)
    total = math.comb(m + n, m)
    tail = (1.0 - confidence) / 2.0
    k, cum = 1, counts[0]
    while k < (m * n + 1) // 2 and (cum + counts[k]) / total <= tail + 1e-12:
        cum += counts[k]
        k += 1
    return k, 1.0 - 2.0 * counts[0] / total if k == 1 else 1.0 - 2.0 * cum / total


def max_confidence(m: int, n: int) -> float:
    """The most any distribution-free interval from m vs n rounds can claim: 1 - 2 / C(m+n, m)."""
    return 1.0 - 2.0 / math.comb(m + n, m)


def bucket_halfwidth(ms: float, resolution: float | None = None) -> float:
    """Half the width of the response-time bucket holding ``ms``, relative to ``ms``.

    ``resolution`` None: Locust's buckets, 1 ms below 100 ms, 10 ms below 1 s, 100 ms below 10 s,
    then 1 s, so a percentile of 150 ms stands for anything in [145, 155): +-3.3%. Else the relative
    width of log-spaced buckets (``load.latency``: 0.005, so +-0.25% at any latency)."""
    if ms <= 0:
        return 0.0
    if resolution is not None:
        return resolution / 2.0
    half = 0.5 if ms < 100 else 5.0 if ms < 1000 else 50.0 if ms < 10000 else 500.0
    return half / ms


def ratio_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    bucketed: bool = False,
    resolutions: tuple[float | None, float | None] = (None, None),
) -> RatioCI:
    """Hodges-Lehmann ratio b/a with its exact Mann-Whitney interval on log values.

    ``confidence`` is the level asked for; the returned ``confidence`` is the level attained (at
    least the one asked for, unless the rounds are too few: then the widest interval and its level).
    ``seed`` is accepted for callers of the former bootstrap; the interval is exact, nothing is random.

    ``bucketed``: the values are Locust percentiles, known only to their bucket. Rounding is not a
    shift (bucket(1.25 x) != 1.25 bucket(x)), which pushed the false-fail rate of a p95 baseline gate
    at its limit to 2.5-3% for a nominal 1.4-2.1% in calibration; the interval is widened by the
    largest relative half-bucket of each arm, so it covers the unrounded ratio. ``resolutions``: each
    arm's bucket width when its percentiles came from ``load.latency`` (None: Locust's buckets).
    """
    del seed
    if len(a) < 1 or len(b) < 1:
        raise ValueError("each arm needs at least one round")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    if np.any(xa <= 0) or np.any(xb <= 0) or not (np.all(np.isfinite(xa)) and np.all(np.isfinite(xb))):
        raise ValueError("ratios need strictly positive, finite samples")
    diffs = np.sort((np.log(xb)[:, None] - np.log(xa)[None, :]).ravel())
    k, attained = mw_rank(xa.size, xb.size, confidence)
    low, high = diffs[k - 1], diffs[diffs.size - k]
    if bucketed:
        res_a, res_b = resolutions
        slack = math.log1p(max(bucket_halfwidth(x, res_a) for x in xa) + max(bucket_halfwidth(x, res_b) for x in xb))
        low, high = low - slack, high + slack
    return RatioCI(
        estimate=float(np.exp(np.median(diffs))),
        low=float(np.exp(low)),
        high=float(np.exp(high)),
        confidence=attained,
        n_a=int(xa.size),
        n_b=int(xb.size),
    )


def median_ci(
    values: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float, float, float]:
    """(median, low, high, attained): the exact order-statistic interval of one arm's median.

    [x_(k), x_(n+1-k)] covers the median with probability 1 - 2 P(Binomial(n, 1/2) <= k-1) for any
    continuous distribution; k is the largest that keeps ``confidence``, else 1 ([min, max]) with
    what it attains (3 rounds: 75%).
    """
    if len(values) < 1:
        raise ValueError("median of no values")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    tail = (1.0 - confidence) / 2.0
    k, cum = 1, 1 / 2**n
    while k < (n + 1) // 2 and cum + math.comb(n, k) / 2**n <= tail + 1e-12:
        cum += math.comb(n, k) / 2**n
        k += 1
    attained = 1.0 - 2.0 * cum if n > 1 else 0.0
    return float(np.median(x)), float(x[k - 1]), float(x[n - k]), attained
