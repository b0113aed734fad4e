"""Bootstrap confidence intervals for the ratios every comparison is judged on.

Rounds of one arm are independent samples of a noisy machine; the statistic we publish is the
ratio of per-arm medians, and its uncertainty comes from resampling rounds (percentile bootstrap).
A verdict is drawn from the interval, never from the point estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class RatioCI:
    """``estimate`` is median(b)/median(a); [low, high] is its bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        """True when the interval excludes 1 (no difference)."""
        return self.low > 1.0 or self.high < 1.0

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


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))


def ratio_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RatioCI:
    """CI of median(b)/median(a) by resampling each arm's rounds independently.

    Seeded so that the same results always render the same verdict.
    """
    if len(a) < 1 or len(b) < 1:
        raise ValueError("each arm needs at least one round")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    if np.any(xa <= 0) or np.any(xb <= 0):
        raise ValueError("ratios need strictly positive samples")
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, xa.size, size=(resamples, xa.size))
    ib = rng.integers(0, xb.size, size=(resamples, xb.size))
    ratios = np.median(xb[ib], axis=1) / np.median(xa[ia], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return RatioCI(
        estimate=float(np.median(xb) / np.median(xa)),
        low=float(low),
        high=float(high),
        confidence=confidence,
        n_a=int(xa.size),
        n_b=int(xb.size),
    )


def median_ci(
    values: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(median, low, high): percentile-bootstrap CI of one arm's median over its rounds (seeded)."""
    if len(values) < 1:
        raise ValueError("median of no values")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(x[rng.integers(0, x.size, size=(resamples, x.size))], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return float(np.median(x)), float(low), float(high)
