"""The soak's statistics: the slope CI keeps its 95% promise on autocorrelated samples; growth and gates."""

from __future__ import annotations

import numpy as np
import pytest

from load import soakstats
from load.soakstats import SoakBudget, analyse, count_growth, gates, growth_percent, slope_ci, window_percentile


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.normal(0, sd / np.sqrt(1 - phi**2))
    for i in range(1, n):
        e[i] = phi * e[i - 1] + rng.normal(0, sd)
    return e


@pytest.mark.parametrize(("n", "phi"), [(24, 0.0), (45, 0.5), (45, 0.7), (120, 0.7), (360, 0.8), (360, 0.9)])
def test_slope_ci_covers_the_true_slope_95_percent_of_the_time(n: int, phi: float) -> None:
    # n: samples after the warm-up (quick soak ~45, the 30-minute plan 300+); phi: AR(1) dependence.
    rng = np.random.default_rng(n * 10 + int(phi * 10))
    minutes = np.arange(n) * 5 / 60
    true = 0.5
    reps = 2000
    hits = 0
    for _ in range(reps):
        ci = slope_ci(minutes, 300 + true * minutes + ar1(rng, n, phi, 2.0))
        hits += ci.low <= true <= ci.high
    coverage = hits / reps
    # Monte Carlo SE at 2000 reps is 0.5 points; estimating rho costs up to ~2 points at small n.
    assert 0.92 <= coverage <= 0.975, coverage


def test_plain_ols_would_not_keep_the_promise() -> None:
    """The reason for batch means: the naive OLS interval on AR(1) samples covers far below 95%."""
    rng = np.random.default_rng(3)
    n, phi, reps, hits = 120, 0.7, 1000, 0
    x = np.arange(n) * 5 / 60
    xc = x - x.mean()
    for _ in range(reps):
        y = 300 + 0.5 * x + ar1(rng, n, phi, 2.0)
        b = float(xc @ (y - y.mean()) / (xc @ xc))
        r = y - y.mean() - b * xc
        se = np.sqrt(r @ r / (n - 2) / (xc @ xc))
        hits += b - 1.98 * se <= 0.5 <= b + 1.98 * se
    assert hits / reps < 0.8


def test_a_real_leak_is_told_apart_from_noise() -> None:
    rng = np.random.default_rng(7)
    minutes = np.arange(300) * 5 / 60  # 25 minutes after the warm-up
    leak = slope_ci(minutes, 400 + 2.0 * minutes + ar1(rng, 300, 0.8, 3.0))
    flat = slope_ci(minutes, 400 + ar1(rng, 300, 0.8, 3.0))
    assert leak.low > 1.0  # 2 MB/min clearly above a 1 MB/min budget
    assert flat.low <= 0 <= flat.high or abs(flat.slope) < 0.2


def test_slope_needs_enough_samples_spread_in_time() -> None:
    with pytest.raises(ValueError, match="at least"):
        slope_ci([0, 1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="same time"):
        slope_ci([1.0] * 10, list(range(10)))


def test_batches_grow_longer_with_dependence() -> None:
    assert soakstats.batch_count(360, 0.0) == soakstats.MAX_BATCHES
    assert soakstats.batch_count(360, 0.95) == soakstats.MIN_BATCHES
    assert soakstats.batch_count(360, 0.9) < soakstats.batch_count(360, 0.5)


def test_growth_uses_medians_of_the_ends() -> None:
    values = [100.0] * 10 + [500.0] + [100.0] * 8 + [110.0] * 11  # one spike in the middle is ignored
    assert growth_percent(values) == pytest.approx(10.0)
    assert growth_percent([100.0, 999.0, 100.0] + [100.0] * 27) == pytest.approx(0.0)  # a spike at the start too


def test_count_growth_ignores_a_flapping_pool_and_sees_new_highs() -> None:
    assert count_growth([10] * 20) == 0
    assert count_growth([18, 39, 20, 25] * 10) == 0  # a pool that grows and shrinks within its bound
    assert count_growth([10] * 10 + [30] * 10) == 20
    assert count_growth(list(range(20))) == 10
    assert count_growth([30] * 10 + [10] * 10) == -20


def samples(rss: list[float], *, fds: list[int] | None = None, every: float = 5.0) -> list[dict[str, float]]:
    return [{"t": i * every - 10, "server_rss_mb": v, "server_fds": (fds or [20] * len(rss))[i], "server_threads": 5,
             "generator_rss_mb": 80.0} for i, v in enumerate(rss)]


def test_analyse_and_gates_pass_a_flat_series_and_fail_a_leak() -> None:
    rng = np.random.default_rng(1)
    flat = analyse(samples(list(300 + rng.normal(0, 1, 200))), warmup_s=60)
    verdicts = {g["gate"]: g["passed"] for g in gates(flat, SoakBudget())}
    assert verdicts == {"rss_slope": True, "rss_growth": True, "fds_flat": True, "threads_flat": True}
    assert flat["rss_idle_mb"] is not None  # the sample before the load started

    leak = analyse(samples([300 + 0.5 * i for i in range(200)], fds=[20 + i for i in range(200)]), warmup_s=60)
    failed = {g["gate"] for g in gates(leak, SoakBudget()) if not g["passed"]}
    assert failed == {"rss_slope", "rss_growth", "fds_flat"}  # 6 MB/min, ~+50%, +~170 descriptors


def test_analyse_refuses_too_few_samples_after_the_warm_up() -> None:
    out = analyse(samples([300.0] * 10), warmup_s=60)
    assert "error" in out
    assert "warm-up" in out["error"]


def test_generator_growth_is_reported_separately() -> None:
    recs = samples([300.0] * 60)
    for i, r in enumerate(recs):
        r["generator_rss_mb"] = 80 + i
    out = analyse(recs, warmup_s=0)
    assert out["generator_rss_growth_percent"] > 50
    assert out["rss_growth_percent"] == 0


def test_window_percentile_sees_only_the_window() -> None:
    before = {10: 1000}  # a thousand fast requests earlier
    after = {10: 1000, 200: 20}  # then only slow ones
    assert window_percentile(before, after, 0.95) == 200.0
    assert window_percentile(after, after, 0.95) is None
    assert window_percentile({}, {1: 95, 50: 5}, 0.95) == 1.0
