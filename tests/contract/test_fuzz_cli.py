"""``harness contract fuzz``: the schemathesis CLI against a live server (real uvicorn + pricing)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.contract.conftest import PRICING_TIMEOUTS

pytestmark = [pytest.mark.contract, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_cli_fuzz_against_live_server_passes_with_junit(tmp_path: Path) -> None:
    """A bounded run (fuzzing + stateful, few examples) must pass and leave a JUnit report that CI reads.

    No --max-time: schemathesis repeats fuzzing and stateful testing until that time is spent (it made
    this test take its whole 120 s); the example budget bounds the run instead. Every operation is
    still fuzzed (the JUnit count below); the in-process suite (test_schemathesis.py) is the thorough one.
    """
    junit = tmp_path / "schemathesis.xml"
    # REFAPP_* reach the app server (harness.server passes them through): generous pricing timeouts.
    env = os.environ | {f"REFAPP_{name.upper()}": str(value) for name, value in PRICING_TIMEOUTS.items()}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "contract", "fuzz", "--phases", "fuzzing,stateful",
         "--max-examples", "3", "--junit", str(junit)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    root = ET.parse(junit).getroot()  # noqa: S314 - a file our own run just wrote
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    assert tests >= 30, f"only {tests} operations reported"
    assert failures == 0


def test_cli_fuzz_rejects_bad_input(tmp_path: Path) -> None:
    """A missing contract file is a usage error (exit 2) with a message, before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "contract", "fuzz", "--contract", str(tmp_path / "nope.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert "no such file" in done.stderr
