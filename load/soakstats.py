"""The statistics of a soak: the RSS slope with a CI fit for autocorrelated samples, growth, flatness, gates.

Samples a few seconds apart are not independent: RSS drifts, and a burst of allocations shows in
several samples in a row. An ordinary least-squares CI would take each sample as fresh evidence
and be far too narrow (a simulation with AR(1) noise, phi=0.7, covered 60%). The slope's CI here comes
from **batch means** (Schmeiser 1982; Law & Kelton, *Simulation Modeling and Analysis*, ch. 9): the
series is cut into k consecutive batches, long against its correlation time, so that the batch means
are close to independent; the slope is fit to them by least squares (``numpy.linalg.lstsq``) and its
interval is Student's t with k-2 degrees of freedom. The batch length is at least four times the
integrated autocorrelation time ``(1+rho)/(1-rho)`` of the residuals (rho: lag-1 autocorrelation), and
k stays between 4 and 8. A moving-block bootstrap of the residuals was tried first and covered
78-89% in the same simulation: it cannot see the dependence between blocks.
tests/unit/load/test_soakstats.py simulates trends with AR(1) noise and checks that the 95%
interval covers the true slope 92-97.5% of the time (the small shortfall comes from estimating rho).

Growth compares the median RSS of the last tenth of the run with that of the first tenth after the
warm-up (medians, so a single spike at either end cannot decide the verdict).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95
#: Student's t 0.975 quantiles for the degrees of freedom k-2 that 4..8 batches give (any t table).
T_975 = {2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 6: 2.446912}
MIN_BATCHES, MAX_BATCHES = 4, 8
EDGE_FRACTION = 0.1  # the share of samples at each end that growth compares (medians)
MIN_SAMPLES = 8


@dataclass(frozen=True, slots=True)
class SlopeCI:
    """A slope (MB per minute for RSS) with its 95% batch-means interval."""

    slope: float
    low: float
    high: float
    confidence: float
    n: int
    batches: int
    rho: float  # lag-1 autocorrelation of the residuals

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _ols(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(intercept, slope) by least squares."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[0]), float(coef[1])


def lag1(residuals: npt.NDArray[np.float64]) -> float:
    """Lag-1 autocorrelation, clipped to [0, 0.95] (negative dependence needs no longer batches)."""
    centred = residuals - residuals.mean()
    denom = float(np.dot(centred, centred))
    rho = float(np.dot(centred[:-1], centred[1:]) / denom) if denom > 0 and len(centred) > 2 else 0.0
    return min(max(rho, 0.0), 0.95)


def batch_count(n: int, rho: float) -> int:
    tau = (1 + rho) / (1 - rho)  # integrated autocorrelation time of an AR(1) series
    length = max(math.ceil(n / MAX_BATCHES), math.ceil(4 * tau))
    return max(MIN_BATCHES, min(MAX_BATCHES, n // length))


def slope_ci(minutes: Sequence[float], values: Sequence[float]) -> SlopeCI:
    """The slope of ``values`` over ``minutes`` and its 95% batch-means interval."""
    x, y = np.asarray(minutes, dtype=float), np.asarray(values, dtype=float)
    n = len(x)
    if n != len(y):
        raise ValueError("minutes and values differ in length")
    if n < MIN_SAMPLES:
        raise ValueError(f"a slope needs at least {MIN_SAMPLES} samples after the warm-up, got {n}")
    if float(np.ptp(x)) <= 0:
        raise ValueError("all samples were taken at the same time")
    intercept, slope = _ols(x, y)
    rho = lag1(y - (intercept + slope * x))
    k = batch_count(n, rho)
    bx = np.array([b.mean() for b in np.array_split(x, k)])
    by = np.array([b.mean() for b in np.array_split(y, k)])
    b_intercept, b_slope = _ols(bx, by)
    resid = by - (b_intercept + b_slope * bx)
    sxx = float(np.sum((bx - bx.mean()) ** 2))
    se = math.sqrt(float(np.dot(resid, resid)) / (k - 2) / sxx)
    half = T_975[k - 2] * se
    # Estimate and interval both from the batch fit (with equal batches it is within a hair of the
    # fit to every sample), so the interval is always centred on the figure it is reported with.
    return SlopeCI(b_slope, b_slope - half, b_slope + half, CONFIDENCE, n, k, rho)


def edge_medians(values: Sequence[float]) -> tuple[float, float]:
    """Median of the first and of the last ``EDGE_FRACTION`` of ``values`` (at least one sample each)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("no samples")
    k = max(1, round(arr.size * EDGE_FRACTION))
    return float(np.median(arr[:k])), float(np.median(arr[-k:]))


def growth_percent(values: Sequence[float]) -> float:
    first, last = edge_medians(values)
    return 100.0 * (last - first) / first if first > 0 else math.inf


def count_growth(values: Sequence[float]) -> float:
    """How far a count (descriptors, threads) rose to a new high: max of the second half minus max of the first.

    Pools come and go (anyio retires idle workers after 10 s, overflow DB connections close), so these
    counts flap; a bounded pool keeps hitting the same ceiling, a leak keeps setting new highs.
    """
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return 0.0
    half = arr.size // 2
    return float(arr[half:].max() - arr[:half].max())


def window_percentile(before: dict[int, int], after: dict[int, int], p: float) -> float | None:
    """The ``p`` percentile (ms) of the requests between two snapshots of Locust's response-time histogram.

    A soak plots p95 per second next to memory; Locust's cumulative percentile would flatten every
    change after the first minutes.
    """
    counts = sorted((ms, after[ms] - before.get(ms, 0)) for ms in after)
    total = sum(c for _, c in counts)
    if total <= 0:
        return None
    rank, seen = p * total, 0
    for ms, c in counts:
        seen += c
        if seen >= rank:
            return float(ms)
    return float(counts[-1][0])


@dataclass(frozen=True, slots=True)
class SoakBudget:
    """What the gates hold a soak to (``[tool.harness.experiments.NAME.soak]``)."""

    slope_mb_per_min: float = 1.0
    growth_percent: float = 10.0
    fd_slack: int = 16  # descriptors may rise this much from start to end (connections come and go)
    thread_slack: int = 8


def gates(analysis: Mapping[str, Any], budget: SoakBudget) -> list[dict[str, Any]]:
    """Pass/fail per gate from an ``analyse`` result; each names its measure, limit and verdict."""
    out: list[dict[str, Any]] = []

    def gate(name: str, measured: float | None, limit: float, text: str) -> None:
        passed = measured is not None and measured <= limit
        out.append({"gate": name, "measured": measured, "limit": limit, "passed": passed, "text": text})

    slope = analysis.get("rss_slope")
    gate("rss_slope", slope["high"] if slope else None, budget.slope_mb_per_min,
         "upper bound of the RSS slope's CI (MB/min) within the budget")
    gate("rss_growth", analysis.get("rss_growth_percent"), budget.growth_percent,
         "RSS growth after the warm-up (%)")
    gate("fds_flat", analysis.get("fds_growth"), budget.fd_slack,
         "open descriptors: new high in the second half over the first")
    gate("threads_flat", analysis.get("threads_growth"), budget.thread_slack,
         "threads: new high in the second half over the first")
    return out


def analyse(samples: Sequence[Mapping[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Slope, growth and flatness of the server series, and the generator's growth, after ``warmup_s``.

    ``samples`` are the sampler's records: ``t`` (seconds since load started; negative before it),
    ``server_rss_mb``, ``server_fds``, ``server_threads``, ``generator_rss_mb``.
    """
    after = [s for s in samples if s["t"] >= warmup_s]
    out: dict[str, Any] = {"samples_after_warmup": len(after), "warmup_s": warmup_s}
    if len(after) < MIN_SAMPLES:
        out["error"] = (f"only {len(after)} samples after the {warmup_s:g} s warm-up; a slope needs "
                        f"{MIN_SAMPLES} (run longer or sample more often)")
        return out
    minutes = [s["t"] / 60.0 for s in after]
    rss = [s["server_rss_mb"] for s in after]
    out["rss_slope"] = slope_ci(minutes, rss).as_dict()
    first, last = edge_medians(rss)
    out |= {"rss_start_mb": first, "rss_end_mb": last, "rss_growth_percent": growth_percent(rss),
            "rss_max_mb": max(rss), "rss_idle_mb": next((s["server_rss_mb"] for s in samples if s["t"] < 0), None),
            "fds_growth": count_growth([s["server_fds"] for s in after]),
            "threads_growth": count_growth([s["server_threads"] for s in after])}
    gen = [(s["t"] / 60.0, s["generator_rss_mb"]) for s in after if s.get("generator_rss_mb")]
    if len(gen) >= MIN_SAMPLES:
        out["generator_rss_growth_percent"] = growth_percent([g for _, g in gen])
        out["generator_rss_slope"] = slope_ci([m for m, _ in gen], [g for _, g in gen]).as_dict()
    return out
