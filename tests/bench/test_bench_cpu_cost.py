"""``make bench`` runs a short version of tests/bench/cpu_cost.py and prints its table.

CPU per request of the cache experiment's arms (hello, cached, uncached) and of every middleware
arm, in process; see cpu_cost.py for what it measures and leaves out. Nothing here asserts a
figure (the figures are for reading, side by side); it asserts that every arm ran and answered as
its experiment expects (cpu_cost checks each response) and that every comparison was reported.
"""

from __future__ import annotations

import asyncio
import io
import math

import pytest

from tests.bench import cpu_cost

pytestmark = pytest.mark.bench


def test_cpu_per_request_of_the_hot_paths(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    # The main job's quick plan gives every benchmark --benchmark-max-time=0.05. The whole table
    # (eight apps started, 3 blocks of 60 requests per arm) is ~8 s, a tenth of that job's 90 s
    # budget: there only the cache arms run, in blocks of 10 (~2 s). `make bench` runs it all.
    quick = float(request.config.getoption("benchmark_max_time")) < 0.5
    suite = "cache" if quick else "all"
    out = io.StringIO()
    figures = asyncio.run(cpu_cost.run(suite, rounds=3, block=10 if quick else 60, server_us=30.0, out=out))
    with capsys.disabled():
        print("\nCPU per request, in process (python -m tests.bench.cpu_cost for the full run):\n" + out.getvalue())
    arms = list(cpu_cost.CACHE_ARMS)
    comparisons = ["cached/uncached", "cached/hello"]
    if suite == "all":
        arms += [f"mw:{name}" for name in cpu_cost.MIDDLEWARE_ARMS]
        comparisons += [f"mw:{name}/mw:bare" for name in cpu_cost.MIDDLEWARE_ARMS if name != "bare"]
    assert sorted(figures) == sorted(arms + comparisons)
    assert all(math.isfinite(value) and value > 0 for value in figures.values())
