"""A deliberately slowed function makes ``harness bench compare`` fail; an unchanged one doesn't.

Not a benchmark itself (no ``bench`` marker): it runs in the normal suite. It runs the real JWT
encode benchmark three times in subprocesses with ``--benchmark-autosave`` into a temporary
storage — twice unchanged, then with ``TokenService.issue`` made 20x slower by the
``tests.bench.slowdown`` plugin — and checks ``harness bench compare`` on the saved runs: the
unchanged pair passes (exit 0), the slowed run regresses (exit 1).

The threshold is on ``min`` (the least noisy statistic on a shared machine) and wide, because what
is tested is the comparison, not this machine's steadiness: two unchanged runs on the shared 2-core
box differed by up to 1.6x in ``min`` (at 50% the unchanged pair flipped to "regressed"). At +300%
(4x) the unchanged pair has 2.5x headroom over that noise, and the 20x slowdown still clears the
threshold with 5x to spare.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cli import main
from tests.bench.slowdown import ENV as SLOWDOWN_ENV

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/bench/test_bench_security.py::test_jwt_encode"
THRESHOLD = "min:300%"
SLOWDOWN = 20
# Autoloading every installed pytest plugin (schemathesis, cov, ...) costs seconds per process.
FAST_PYTEST = ["-p", "pytest_benchmark.plugin", "-p", "pytest_asyncio.plugin", "-p", "no:cacheprovider"]


def bench_once(storage: Path, *, slowdown: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if k != SLOWDOWN_ENV}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if slowdown:
        env[SLOWDOWN_ENV] = slowdown
    cmd = [sys.executable, "-m", "pytest", TARGET, "-m", "bench", "-q", *FAST_PYTEST, "-p", "tests.bench.slowdown",
           "--benchmark-autosave", f"--benchmark-storage=file://{storage}", "--benchmark-min-rounds=200",
           "--benchmark-max-time=0.1", "--benchmark-columns=min,mean,rounds"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_slowed_function_fails_the_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = tmp_path / "benchmarks"
    bench_once(storage)
    bench_once(storage)
    compare = ["bench", "compare", "--benchmark-storage", str(storage), "--threshold", THRESHOLD]
    assert main(compare) == exitcodes.OK  # newest (0002) vs 0001: same code
    assert "no benchmark regressed" in capsys.readouterr().out

    bench_once(storage, slowdown=f"reference_app.core.security:TokenService.issue={SLOWDOWN}")
    assert main(compare) == exitcodes.GATE_FAILED  # newest (0003, slowed) vs 0002
    out = capsys.readouterr().out
    regressed = [line for line in out.splitlines() if "REGRESSED" in line]
    assert len(regressed) == 1, out
    assert "test_jwt_encode" in regressed[0]
    assert main([*compare, "0002", "0001"]) == exitcodes.OK  # the unchanged pair still passes


def test_slowdown_spec_is_validated() -> None:
    from tests.bench.slowdown import parse

    assert parse("pkg.mod:Cls.fn=3") == ("pkg.mod", "Cls.fn", 3)
    for bad in ("pkg.mod:Cls.fn", "pkg.mod=3", "pkg.mod:fn=0", ":fn=2"):
        with pytest.raises(pytest.UsageError):
            parse(bad)
