"""``harness compare`` refusals: each exits 2 with a clear message before anything is started, and
leaves no worktree behind."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.utils.git_service import app_source, commit_app, git, make_service_repo


def _compare(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The console script, as a user runs it (``python -m`` would put the service's directory first on sys.path).
    harness = str(Path(sys.executable).parent / "harness")
    return subprocess.run([harness, "compare", *args], cwd=repo, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = make_service_repo(tmp_path / "svc")
    commit_app(path, app_source(sleep_ms=1), "head: slower")
    return path


def _no_worktrees(repo: Path) -> None:
    assert git(repo, "worktree", "list").count("\n") == 0


def test_unknown_ref_exits_2(repo: Path) -> None:
    proc = _compare(repo, "--base", "no-such-branch", "--quick")
    assert proc.returncode == 2
    assert "unknown revision 'no-such-branch'" in proc.stderr
    _no_worktrees(repo)


def test_unknown_head_ref_exits_2(repo: Path) -> None:
    proc = _compare(repo, "--base", "HEAD~1", "--head", "v9.9", "--quick")
    assert proc.returncode == 2
    assert "unknown revision 'v9.9'" in proc.stderr


def test_head_ref_with_a_dirty_worktree_exits_2(repo: Path) -> None:
    (repo / "app.py").write_text(app_source(sleep_ms=2))
    proc = _compare(repo, "--base", "HEAD~1", "--head", "HEAD", "--quick")
    assert proc.returncode == 2
    assert "uncommitted changes (app.py)" in proc.stderr
    _no_worktrees(repo)


def test_not_a_git_repository_exits_2(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text('[tool.harness]\napp = "app:app"\n')
    proc = _compare(plain, "--base", "HEAD")
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--max-regression", "150%"], "--max-regression"),
    (["--max-regression", "ten"], "--max-regression"),
    (["--rounds", "0"], "--rounds must be >= 1"),
    (["--experiment", "nope"], "unknown experiment 'nope'"),
    (["--arm", "nope"], "has no arm 'nope'"),
    (["-f", "missing.py"], "no such locustfile"),
])
def test_bad_options_exit_2(repo: Path, args: list[str], message: str) -> None:
    proc = _compare(repo, "--base", "HEAD~1", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    _no_worktrees(repo)


def test_a_base_that_cannot_import_exits_2_naming_the_side(repo: Path) -> None:
    commit_app(repo, "raise RuntimeError('broken on purpose')\n", "broken")
    commit_app(repo, app_source(), "fixed")
    proc = _compare(repo, "--base", "HEAD~1", "--quick")
    assert proc.returncode == 2
    assert "base" in proc.stderr
    assert "broken on purpose" in proc.stderr
    _no_worktrees(repo)


def _fake_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_compare that reports one progress line and one verdict, the way the real one does."""
    from harness import compare

    def run(target: object, args: object, max_regression: float, *, progress: Callable[[str], None],
            result: Callable[[str], None] | None = None) -> int:
        progress("[base] round 1/5: 812 rps")
        (result or progress)("compare: PASS in 40 s -> exit 0")
        return 0

    monkeypatch.setattr(compare, "run_compare", run)


@pytest.mark.parametrize(("flags", "progress_shown"), [([], True), (["-q"], False), (["--quiet"], False),
                                                       (["-v"], True)])
def test_quiet_keeps_only_the_verdict(flags: list[str], progress_shown: bool, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    _fake_compare(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")  # plain lines whatever runs the tests
    assert main(["compare", "--base", "HEAD", *flags]) == 0
    out = capsys.readouterr().out
    assert ("[base] round 1/5" in out) is progress_shown
    assert "compare: PASS" in out


def test_compare_quiet_and_verbose_exclude_each_other() -> None:
    from harness.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--base", "HEAD", "-q", "-v"])
