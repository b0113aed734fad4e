"""Git revisions of the target's repository for ``harness compare``: resolve, check, check out.

A side of a comparison is either the working tree itself or a commit checked out into a temporary
``git worktree add --detach``, which is removed again however the comparison ends: normally, on an
exception, on Ctrl-C, or on SIGTERM (a CI runner cancelling the job), which ``harness.interrupts`` turns into
``KeyboardInterrupt`` for every command, so every ``finally`` runs.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import exitcodes
from harness.exitcodes import HarnessError

GIT_TIMEOUT_S = 120.0


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise HarnessError("harness compare needs git on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"git {' '.join(args)} timed out after {GIT_TIMEOUT_S:.0f}s",
                           exitcodes.INVALID_RUN) from exc
    if check and done.returncode != 0:
        raise HarnessError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


def repo_root(path: Path) -> Path:
    """The top of the git work tree holding ``path``; exit 2 when there is none."""
    done = git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise HarnessError(f"{path} is not inside a git repository; harness compare compares two revisions "
                           "of the target's repository")
    return Path(done.stdout.strip()).resolve()


def resolve(repo: Path, ref: str) -> str:
    """The full commit id ``ref`` names; exit 2 for a name git doesn't know (or that is not a commit)."""
    if not ref or ref.startswith("-"):
        raise HarnessError(f"invalid revision {ref!r}")
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0 or not done.stdout.strip():
        hint = " (in CI, fetch it first: `git fetch origin BRANCH`, or check out with fetch-depth: 0)" \
            if "/" in ref else ""
        raise HarnessError(f"unknown revision {ref!r} in {repo}: not a commit git can resolve{hint}")
    return done.stdout.strip()


def dirty_paths(repo: Path) -> list[str]:
    """Tracked files with uncommitted changes and untracked files not ignored (``git status``)."""
    done = git(repo, "status", "--porcelain", "--untracked-files=normal")
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


def describe(repo: Path, sha: str) -> str:
    """``abc1234 subject`` for reports."""
    done = git(repo, "log", "-1", "--format=%h %s", sha, check=False)
    return done.stdout.strip() or sha[:12]


@dataclass(frozen=True)
class Checkout:
    """A side's tree: the working tree (``temporary`` False) or a detached temporary worktree."""

    path: Path
    sha: str
    temporary: bool


@contextlib.contextmanager
def temporary_worktree(repo: Path, sha: str, *, label: str, parent: Path | None = None) -> Iterator[Checkout]:
    """``sha`` checked out (detached) in a fresh directory; always removed, and pruned from git's list."""
    scratch = Path(tempfile.mkdtemp(prefix=f"harness-compare-{label}-", dir=parent))
    path = scratch / "tree"
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
        yield Checkout(path, sha, temporary=True)
    finally:
        remove_worktree(repo, path)
        shutil.rmtree(scratch, ignore_errors=True)


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove a worktree even if it was half created or its files were changed; never raises."""
    with contextlib.suppress(HarnessError, OSError):
        git(repo, "worktree", "remove", "--force", str(path), check=False)
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(HarnessError, OSError):
        git(repo, "worktree", "prune", check=False)
