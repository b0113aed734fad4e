"""End to end: a short soak of the reference app (``-m load``; it starts a server and Locust for ~15 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.target import load_target
from load.experiment import get_experiment
from load.runner import RunOptions
from load.soak import run_soak

pytestmark = [pytest.mark.load, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_short_soak_samples_the_server_and_the_generator(tmp_path: Path) -> None:
    target = load_target(REPO)
    lines: list[str] = []
    doc = run_soak(get_experiment(target, "soak"), target, RunOptions(users=5, warmup=3, output=tmp_path),
                   duration=15, sample_s=0.4, progress=lines.append)
    saved = json.loads((tmp_path / "soak.json").read_text())
    assert saved["run_id"] == doc["run_id"]
    assert saved["verdict"] in ("pass", "fail")  # valid either way; memory on a shared machine may step
    samples = saved["samples"]
    assert len(samples) >= 30
    assert samples[0]["t"] < 0  # the idle server is in the series
    assert all(s["server_rss_mb"] > 20 for s in samples)
    assert all(s["generator_rss_mb"] > 20 for s in samples)
    assert all("db_pool_checked_out" in s["metrics"] for s in samples)
    assert saved["analysis"]["rss_slope"]["n"] >= 20
    assert {g["gate"] for g in saved["gates"]} == {"rss_slope", "rss_growth", "fds_flat", "threads_flat"}
    assert saved["totals"]["requests"] > 0
    assert saved["totals"]["failures"] == 0
    assert any(p["p95_ms"] is not None for p in saved["timeline"])
    assert (tmp_path / "soak.png").stat().st_size > 10_000
