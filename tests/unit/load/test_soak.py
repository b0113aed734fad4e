"""The soak runner's parts that need no load: process sampling, metrics scraping, plans, config, report."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes
from harness.target import ExperimentSpec, Soak
from load import soak as soak_mod
from load.runner import RunOptions

METRICS = """\
# HELP db_pool_checked_out Database connections checked out of the pool.
# TYPE db_pool_checked_out gauge
db_pool_checked_out 3.0
# HELP http_requests_total HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/a",status="200"} 5.0
http_requests_total{method="GET",route="/b",status="200"} 7.0
"""


def test_process_stats_sees_this_process_and_skips_gone_ones() -> None:
    stats = soak_mod.process_stats([os.getpid(), 2**22 + 12345])
    assert list(stats["rss_by_pid"]) == [str(os.getpid())]
    assert stats["rss_mb"] > 1
    assert stats["fds"] > 0
    assert stats["threads"] >= 1


def test_process_stats_sees_memory_grow() -> None:
    before = soak_mod.process_stats([os.getpid()])["rss_mb"]
    ballast = bytearray(64 * 2**20)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touch every page so it is resident
    after = soak_mod.process_stats([os.getpid()])["rss_mb"]
    assert after - before > 48
    del ballast


def test_parse_metrics_sums_label_sets_and_omits_missing() -> None:
    wanted = {"pool": "db_pool_checked_out", "requests": "http_requests_total", "absent": "nope_total"}
    assert soak_mod.parse_metrics(METRICS, wanted) == {"pool": 3.0, "requests": 12.0}


def test_sampler_samples_every_tick_until_stopped() -> None:
    threads = threading.active_count()
    sampler = soak_mod.Sampler(0.05, lambda: [os.getpid()], lambda: [], lambda: {"pool": 1.0})
    sampler.start()
    time.sleep(0.5)
    samples = sampler.stop()
    assert 4 <= len(samples) <= 15
    assert all(s["server_rss_mb"] > 0 and s["metrics"] == {"pool": 1.0} for s in samples)
    assert samples[-1]["wall"] > samples[0]["wall"]
    assert threading.active_count() == threads  # the thread ended
    rel = soak_mod.relative(samples, samples[2]["wall"])
    assert rel[2]["t"] == 0
    assert rel[0]["t"] < 0
    assert "wall" not in rel[0]


def test_plan_quick_long_and_overrides() -> None:
    spec = Soak()
    assert soak_mod.plan_for(spec, RunOptions(quick=True)) == soak_mod.SoakPlan(120, 30, 2)
    assert soak_mod.plan_for(spec, RunOptions()) == soak_mod.SoakPlan(1800, 300, 5)
    assert soak_mod.plan_for(spec, RunOptions(warmup=10), duration=60, sample_s=1) == soak_mod.SoakPlan(60, 10, 1)
    with pytest.raises(exitcodes.HarnessError, match="warm-up"):
        soak_mod.plan_for(spec, RunOptions(quick=True, warmup=120))


def test_a_soak_has_exactly_one_arm(tmp_path: Path) -> None:
    arm = {"name": "a"}
    ExperimentSpec(locustfile=tmp_path / "f.py", arms=[arm], soak=Soak())
    with pytest.raises(ValueError, match="exactly one arm"):
        ExperimentSpec(locustfile=tmp_path / "f.py", arms=[arm, {"name": "b"}], soak=Soak())
    with pytest.raises(ValueError, match="greater than 0"):
        Soak(budget_mb_per_min=0)


def doc(verdict: str = "pass", **analysis: Any) -> dict[str, Any]:
    samples = [{"t": t, "server_rss_mb": 100.0 + t / 600, "server_rss_by_pid": {"1": 60.0, "2": 40.0 + t / 600},
                "server_fds": 20, "server_threads": 8, "generator_rss_mb": 70.0, "generator_rss_by_pid": {"9": 70.0},
                "metrics": {"db_pool_checked_out": 2.0}} for t in range(-4, 120, 2)]
    return {"profile": "soak", "run_id": "r1", "description": "d", "verdict": verdict,
            "config": {"seconds": 120, "warmup_s": 30, "sample_s": 2},
            "totals": {"rps": 50.0, "p95_ms": 20.0, "failures": 0},
            "analysis": {"rss_slope": {"slope": 0.1, "low": -0.1, "high": 0.3, "batches": 6, "rho": 0.2},
                         "rss_start_mb": 100.5, "rss_end_mb": 100.6, "rss_growth_percent": 0.1, "rss_idle_mb": 90.0,
                         "generator_rss_growth_percent": 0.0, **analysis},
            "gates": [{"gate": "rss_slope", "measured": 0.3, "limit": 1.0, "passed": verdict == "pass", "text": "t"}],
            "validity": {"valid": verdict != "invalid", "reasons": [], "notes": []},
            "samples": samples, "timeline": [{"t": t, "rps": 50.0, "p95_ms": 20.0} for t in range(1, 120)]}


@pytest.mark.parametrize(("verdict", "code"), [("pass", exitcodes.OK), ("fail", exitcodes.GATE_FAILED),
                                               ("invalid", exitcodes.INVALID_RUN)])
def test_exit_code_follows_the_verdict(verdict: str, code: int) -> None:
    assert soak_mod.exit_code(doc(verdict)) == code


def test_report_and_plot(tmp_path: Path) -> None:
    out = io.StringIO()
    soak_mod.print_soak(doc("fail"), out)
    text = out.getvalue()
    assert "RSS slope +0.100 MB/min, 95% CI [-0.100, +0.300]" in text
    assert "verdict: fail" in text
    path = soak_mod.plot_soak(doc(), tmp_path / "soak.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_soaks_stay_out_of_the_main_job_matrix(tmp_path: Path) -> None:
    from harness.target import Target

    exps = {"ab": {"locustfile": tmp_path / "f.py", "arms": [{"name": "a"}, {"name": "b"}]},
            "soak": {"locustfile": tmp_path / "f.py", "arms": [{"name": "a"}], "soak": {}}}
    assert Target(root=tmp_path, app_dir=tmp_path, experiments=exps).run_matrix() == ["ab"]
    with pytest.raises(ValueError, match="soak"):
        Target(root=tmp_path, app_dir=tmp_path, experiments=exps, matrix=["ab", "soak"])


def test_a_soak_with_failing_requests_is_invalid() -> None:
    ok = {"rss_slope": {}}
    assert soak_mod.invalid_reasons(ok, {"requests": 1000, "failures": 10}) == []
    assert "failed" in soak_mod.invalid_reasons(ok, {"requests": 1000, "failures": 11})[0]
    assert soak_mod.invalid_reasons(ok, {"requests": 0, "failures": 0}) == ["no request completed"]
    assert soak_mod.invalid_reasons({"error": "too few"}, {"requests": 5, "failures": 0}) == ["too few"]
