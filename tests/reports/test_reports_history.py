"""Run history: `harness baseline save` keeps the last N runs, `harness history` finds change points
with Apache Otava, and the report plots each gated figure over the stored runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from reports import baseline as baseline_file
from reports import history, render
from reports.results import RunSet
from tests.utils.results_factory import Arm, make_results


def _run(i: int, rps: float) -> dict[str, Any]:
    doc = make_results({"io_async": Arm(rps=rps, p50_ms=20), "io_sync": Arm(rps=100, p50_ms=60)},
                       profile="io", rounds=6, seed=i, run_id=f"run-{i:02d}")
    doc["created_at"] = f"2026-01-{i + 1:02d}T00:00:00Z"
    return doc


def _save_series(tmp_path: Path, levels: list[float], *, keep: int = 20) -> Path:
    path = tmp_path / "baseline.json"
    for i, rps in enumerate(levels):
        baseline_file.save(RunSet.from_docs([_run(i, rps)]), path, keep=keep)
    return path


def test_save_keeps_the_last_n_runs(tmp_path: Path) -> None:
    path = _save_series(tmp_path, [500.0] * 5, keep=3)
    runs = baseline_file.load_history(path)
    assert [r["run_id"] for r in runs] == ["run-02", "run-03", "run-04"]
    assert baseline_file.load(path).docs[0]["run_id"] == "run-04"  # the gates still compare with the newest


def test_a_level_shift_is_a_change_point_and_noise_is_not(tmp_path: Path) -> None:
    path = _save_series(tmp_path, [500.0] * 8 + [350.0] * 8)
    found = {(s.arm, s.metric): s for s in history.analyse(baseline_file.load_history(path))}
    shifted = found[("io_async", "rps")]
    assert [c.run_id for c in shifted.change_points] == ["run-08"]
    assert shifted.change_points[0].change == pytest.approx(-0.3, abs=0.03)
    assert found[("io_sync", "rps")].change_points == ()  # same level throughout


def test_a_shift_smaller_than_the_margin_is_not_reported(tmp_path: Path) -> None:
    # 8% is beyond these runs' noise (Otava finds it) but below the default plan's ±12% margin
    path = _save_series(tmp_path, [500.0] * 8 + [460.0] * 8)
    s = next(s for s in history.analyse(baseline_file.load_history(path)) if (s.arm, s.metric) == ("io_async", "rps"))
    assert s.change_points == ()
    assert s.margin == pytest.approx(0.12)
    unfiltered = history.detect(dataclasses.replace(s, margin=0.0))
    assert [c.run_id for c in unfiltered.change_points] == ["run-08"]


def test_history_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save_series(tmp_path, [500.0] * 8 + [350.0] * 8)
    assert main(["history", str(path), "--metric", "rps"]) == 0
    out = capsys.readouterr().out
    assert "16 stored run(s)" in out
    assert "at run run-08" in out
    assert main(["history", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(s["change_points"] for s in data)
    assert main(["history", str(tmp_path / "missing.json")]) == 2


def test_report_plots_gated_figures_with_change_points(tmp_path: Path) -> None:
    path = _save_series(tmp_path, [500.0] * 8 + [350.0] * 8)
    current = tmp_path / "current.json"
    current.write_text(json.dumps(_run(20, 350.0)), encoding="utf-8")
    gates = tmp_path / "gates.toml"
    gates.write_text('[[gate]]\nkind = "baseline"\nprofile = "io"\narm = "io_async"\nmetric = "rps"\n'
                     'max_regression = "15%"\n', encoding="utf-8")
    data = render.gather([current], gates=gates, baseline=path)
    assert data.history is not None
    assert {(s.arm, s.metric) for s in data.history} == {("io_async", "rps")}  # only what is gated
    assert data.history[0].run_ids[-1] == "run-20"  # this run, last
    paths = render.write(data, tmp_path / "out")
    page = paths["index.html"].read_text(encoding="utf-8")
    assert '<section id="history">' in page
    assert 'data-plot="history"' in page
    assert "run run-08" in page
    assert "change point at run `run-08`" in paths["summary.md"].read_text(encoding="utf-8")
