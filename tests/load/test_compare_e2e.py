"""End to end: ``harness compare`` on a tiny service in its own git repository with two commits, the
head adding a 50 ms sleep to the read. Marked slow: it starts two servers and Locust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.git_service import app_source, commit_app, git, make_service_repo

pytestmark = pytest.mark.slow


def _compare(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    harness = str(Path(sys.executable).parent / "harness")
    return subprocess.run([harness, "compare", *args], cwd=repo, capture_output=True, text=True, timeout=600,
                          check=False)


def test_compare_two_commits(tmp_path: Path) -> None:
    repo = make_service_repo(tmp_path / "svc")
    commit_app(repo, app_source(sleep_ms=50), "head: a slower read")
    out = tmp_path / "report"
    proc = _compare(repo, "--base", "HEAD~1", "--quick", "--rounds", "3", "--round-seconds", "1", "--warmup", "0.5",
                    "-o", str(out))
    # 50 ms on a read of a few ms: every head round is slower than every base round, by far.
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    compare = json.loads((out / "compare.json").read_text())
    verdicts = {v["metric"]: v for v in compare["verdicts"]}
    assert verdicts["p50"]["outcome"] == "fail"
    assert verdicts["p50"]["low"] > 1.1
    assert compare["base"]["sha"] == git(repo, "rev-parse", "HEAD~1")
    assert compare["head"]["tree"] == "working tree"
    assert "reused" in compare["base"]["env"]  # same dependency files: no venv built
    load = json.loads((out / "load" / "results.json").read_text())
    assert [a["name"] for a in load["arms"]] == ["base", "head"]
    measured = [r["arm"] for r in load["rounds"] if not r["warmup"]]
    assert measured == ["base", "head", "head", "base", "base", "head"]  # interleaved
    summary = (out / "summary.md").read_text().splitlines()
    assert "FAIL" in summary[0]
    assert len(summary) < 60
    # each side served its own tree (the fail above says so too): one server log per side
    assert list((out / "load" / "base" / "logs").glob("server-*.log"))
    assert list((out / "load" / "head" / "logs").glob("server-*.log"))
    assert git(repo, "worktree", "list").count("\n") == 0  # the base's worktree is gone


def test_a_side_that_fails_to_start_exits_3_with_its_log_tail(tmp_path: Path) -> None:
    repo = make_service_repo(tmp_path / "svc")
    # The app imports, but its startup fails: only a started server shows it.
    broken = app_source().replace("app = FastAPI()", "from contextlib import asynccontextmanager\n\n\n"
                                  "@asynccontextmanager\nasync def life(app):\n"
                                  "    raise RuntimeError('no database on purpose')\n    yield\n\n\n"
                                  "app = FastAPI(lifespan=life)")
    commit_app(repo, broken, "head: startup fails")
    proc = _compare(repo, "--base", "HEAD~1", "--quick", "--no-contract", "-o", str(tmp_path / "r"))
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "head side failed to start" in proc.stderr
    assert "no database on purpose" in proc.stderr  # the log tail
    assert git(repo, "worktree", "list").count("\n") == 0
