"""`harness bench compare`: regressions of pytest-benchmark runs vs a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cli import main
from tests.utils.results_factory import make_bench

MACHINE = "Linux-CPython-3.11-64bit"
MEANS = {"test_hash_password": 0.002, "test_encode_jwt": 0.00005, "test_validate_item": 0.00001}


def save(storage: Path, number: int, means: dict[str, float], *, seed: int = 0) -> Path:
    path = storage / MACHINE / f"{number:04d}_abc{number}_20260101_000000.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_bench(means, seed=seed, noise=0.01)), encoding="utf-8")
    return path


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    storage = tmp_path / ".benchmarks"
    save(storage, 1, MEANS, seed=1)
    return storage


def test_unchanged_run_passes(storage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(storage, 2, MEANS, seed=2)
    assert main(["bench", "compare", "--benchmark-storage", str(storage)]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "0002_" in out.splitlines()[0]  # newest is current
    assert "no benchmark regressed" in out


def test_slowed_benchmark_fails(storage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(storage, 2, {**MEANS, "test_encode_jwt": 0.00005 * 1.5}, seed=2)
    assert main(["bench", "compare", "--benchmark-storage", str(storage), "--threshold", "10%"]) == 1
    out = capsys.readouterr().out
    regressed = [line for line in out.splitlines() if "REGRESSED" in line]
    assert len(regressed) == 1
    assert "test_encode_jwt" in regressed[0]


def test_threshold_is_respected(storage: Path) -> None:
    save(storage, 2, {k: v * 1.2 for k, v in MEANS.items()}, seed=2)
    base = ["bench", "compare", "--benchmark-storage", str(storage)]
    assert main([*base, "--threshold", "50%"]) == exitcodes.OK
    assert main([*base, "--threshold", "mean:10%"]) == exitcodes.GATE_FAILED
    assert main([*base, "--threshold", "min:10%"]) == exitcodes.GATE_FAILED


def test_explicit_files_and_run_ids(storage: Path, tmp_path: Path) -> None:
    slow = tmp_path / "current.json"
    slow.write_text(json.dumps(make_bench({k: v * 2 for k, v in MEANS.items()})), encoding="utf-8")
    assert main(["bench", "compare", "--benchmark-storage", str(storage), str(slow), "0001"]) == 1
    assert main(["bench", "compare", "--benchmark-storage", str(storage), "0001", "0001"]) == 0


def test_usage_errors(storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "compare", "--benchmark-storage", str(tmp_path / "empty")]) == exitcodes.USAGE
    assert "no saved benchmark runs" in capsys.readouterr().err
    assert main(["bench", "compare", "--benchmark-storage", str(storage)]) == exitcodes.USAGE  # only one run
    assert main(["bench", "compare", "--benchmark-storage", str(storage), "--threshold", "fast"]) == exitcodes.USAGE
    assert "threshold 'fast'" in capsys.readouterr().err
