"""The repository carries no scratch credentials: ``tok`` (a JWT pasted at the root) once was tracked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A signed compact JWS: header, payload, and a real signature (HS256 is 43 characters). The security
# tests' deliberately malformed tokens (two or four segments, a four-character signature) don't match.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_.-])")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist or an installed copy): nothing is tracked")
    out = _git("ls-files", "-z")
    assert out.returncode == 0, out.stderr
    return [name for name in out.stdout.split("\0") if name]


@pytest.mark.parametrize("name", ["tok", "tok.txt", "token", "token.json", "admin.jwt", "scratch.md", "x.tmp"])
def test_scratch_files_at_the_root_are_ignored(tracked: list[str], name: str) -> None:
    result = _git("check-ignore", "--no-index", "-q", name)
    assert result.returncode == 0, f"{name} at the repo root is not covered by .gitignore"


def test_no_tracked_file_holds_a_jwt(tracked: list[str]) -> None:
    """Tests mint their tokens at run time; a literal compact JWS in the tree is a leaked credential."""
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 5_000_000 and JWT.search(path.read_bytes()):
            offenders.append(name)
    assert offenders == []
