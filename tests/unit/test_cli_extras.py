"""A command whose optional extra is missing says which extra to install, in one line, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cli import extra_providing, missing_module_message
from tests.utils.results_factory import make_results

ROOT = Path(__file__).resolve().parents[2]

# Importing a module whose sys.modules entry is None raises ModuleNotFoundError, as if it were absent.
BLOCK_LOAD_EXTRA = (
    "import sys\n"
    "for name in ('numpy', 'matplotlib', 'locust', 'psutil', 'jsonschema_rs'):\n"
    "    sys.modules[name] = None\n"
    "from harness.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize(("module", "extra"), [("numpy", "load"), ("matplotlib.pyplot", "load"),
                                                ("locust", "load"), ("testcontainers", "test"), ("httpx", None)])
def test_extra_is_read_from_the_installed_metadata(module: str, extra: str | None) -> None:
    assert extra_providing(module) == extra


def test_message_for_a_module_of_no_extra_names_the_module() -> None:
    line = missing_module_message(ModuleNotFoundError("No module named 'acme'", name="acme"), "serve")
    assert line == "harness serve: the Python package 'acme' is not installed (No module named 'acme')"


def test_report_without_the_load_extra_prints_one_line(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(make_results()))
    proc = subprocess.run([sys.executable, "-c", BLOCK_LOAD_EXTRA, "report", str(results), "-o", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == exitcodes.USAGE, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness report: needs the optional extra 'load' (")
    assert lines[0].endswith("install it with: pip install 'fastapi-harness[load]'")
