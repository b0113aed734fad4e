"""REF resolution, the dirty check and the temporary worktree of ``harness compare`` on a real git repo."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from harness import gitrev, interrupts
from harness.exitcodes import USAGE, HarnessError


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.email", "t@example.com")
    _git(path, "config", "user.name", "t")
    (path / "app.py").write_text("VERSION = 1\n")
    _git(path, "add", "app.py")
    _git(path, "commit", "-qm", "one")
    (path / "app.py").write_text("VERSION = 2\n")
    _git(path, "commit", "-qam", "two")
    return path


def test_resolve_names_and_rejects_unknown(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    assert gitrev.resolve(repo, "HEAD") == head
    assert gitrev.resolve(repo, "main") == head
    assert gitrev.resolve(repo, "HEAD~1") == _git(repo, "rev-parse", "HEAD~1")
    with pytest.raises(HarnessError, match="unknown revision 'nope'") as info:
        gitrev.resolve(repo, "nope")
    assert info.value.exit_code == USAGE
    with pytest.raises(HarnessError, match="git fetch"):
        gitrev.resolve(repo, "origin/main")  # a remote branch that was never fetched
    with pytest.raises(HarnessError, match="invalid revision"):
        gitrev.resolve(repo, "--all")


def test_resolve_refuses_a_non_commit(repo: Path) -> None:
    tree = _git(repo, "rev-parse", "HEAD^{tree}")
    with pytest.raises(HarnessError, match="unknown revision"):
        gitrev.resolve(repo, tree)


def test_repo_root_outside_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(HarnessError, match="not inside a git repository"):
        gitrev.repo_root(plain)


def test_repo_root_from_a_subdirectory(repo: Path) -> None:
    sub = repo / "pkg"
    sub.mkdir()
    assert gitrev.repo_root(sub) == repo.resolve()


def test_dirty_paths(repo: Path) -> None:
    assert gitrev.dirty_paths(repo) == []
    (repo / "app.py").write_text("VERSION = 3\n")
    (repo / "new.py").write_text("")
    assert sorted(gitrev.dirty_paths(repo)) == ["app.py", "new.py"]


def test_temporary_worktree_checks_out_and_is_removed(repo: Path) -> None:
    sha = gitrev.resolve(repo, "HEAD~1")
    with gitrev.temporary_worktree(repo, sha, label="base") as tree:
        assert (tree.path / "app.py").read_text() == "VERSION = 1\n"
        assert tree.temporary
        assert tree.sha == sha
        assert str(tree.path) in _git(repo, "worktree", "list")
        path = tree.path
    assert not path.exists()
    assert _git(repo, "worktree", "list").count("\n") == 0  # only the main work tree is left


def test_temporary_worktree_is_removed_on_an_exception(repo: Path) -> None:
    sha = gitrev.resolve(repo, "HEAD~1")
    seen: list[Path] = []

    def fail_inside() -> None:
        with gitrev.temporary_worktree(repo, sha, label="base") as tree:
            seen.append(tree.path)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    path = seen[0]
    assert not path.exists()
    assert str(path) not in _git(repo, "worktree", "list")


def test_sigterm_becomes_keyboard_interrupt_and_cleans_up(repo: Path) -> None:
    sha = gitrev.resolve(repo, "HEAD~1")
    before = signal.getsignal(signal.SIGTERM)
    seen: list[Path] = []

    def terminated_inside() -> None:
        with interrupts.terminating_as_interrupt(), gitrev.temporary_worktree(repo, sha, label="base") as tree:
            seen.append(tree.path)
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()  # pragma: no cover - the handler raises before this returns

    with pytest.raises(KeyboardInterrupt):
        terminated_inside()
    assert not seen[0].exists()
    assert signal.getsignal(signal.SIGTERM) is before
