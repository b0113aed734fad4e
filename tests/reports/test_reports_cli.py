"""`harness gate` / `harness baseline` exit codes through the real CLI entry point."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes
from harness.cli import main
from tests.utils.results_factory import make_results

PASSING = """
[[gate]]
kind = "relative"
profile = "io"
expr = "rps[io_async] / rps[io_sync] >= 3"

[[gate]]
kind = "absolute"
profile = "io"
arm = "io_async"
expr = "p95 < 200ms"

[[gate]]
kind = "baseline"
profile = "io"
metric = "rps"
max_regression = "10%"
"""

MUST_FAIL = """
[[gate]]
name = "impossible speed-up"
kind = "relative"
profile = "io"
expr = "rps[io_async]/rps[io_sync] >= 100"
"""


def test_passing_gates_exit_0(
    io_results_path: Path, write_gates: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", str(io_results_path), "--gates", str(write_gates(PASSING))]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "PASS" in out
    assert "SKIPPED" in out  # baseline gate without --baseline


def test_must_fail_gate_exits_1(
    io_results_path: Path, write_gates: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", str(io_results_path), "--gates", str(write_gates(MUST_FAIL))]) == exitcodes.GATE_FAILED
    assert "FAIL" in capsys.readouterr().out


def test_gates_that_apply_to_nothing_exit_2_not_0(
    io_results_path: Path, write_gates: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # A third-party check: init's starter gate named the `smoke` experiment, a `load run -f` result is
    # profile `locustfile`, and `harness gate` skipped everything and exited 0 ("passed").
    other = write_gates('[[gate]]\nkind = "absolute"\nprofile = "smoke"\nexpr = "error_rate < 1%"\n')
    assert main(["gate", str(io_results_path), "--gates", str(other)]) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert "no gate applied" in err
    assert "smoke" in err
    assert "io" in err


def test_starter_gates_apply_to_a_locustfile_run(
    write_json: Callable[[str, Any], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.init import GATES_TEXT

    results = write_json("results.json", make_results(["a", "b"], profile="locustfile"))
    gates = tmp_path / "gates.toml"
    gates.write_text(GATES_TEXT)
    assert main(["gate", str(results), "--gates", str(gates)]) == exitcodes.OK
    assert "PASS          no errors" in capsys.readouterr().out


def test_unknown_gate_key_exits_2(
    io_results_path: Path, write_gates: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gates = write_gates('[[gate]]\nkind = "absolute"\nexpr = "p95 < 1s"\nthreshhold = 1\n')
    assert main(["gate", str(io_results_path), "--gates", str(gates)]) == exitcodes.USAGE
    assert "unknown key(s) ['threshhold']" in capsys.readouterr().err


def test_schema_invalid_results_exit_2(
    write_json: Callable[[str, Any], Path],
    write_gates: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = make_results()
    del doc["rounds"]
    path = write_json("broken.json", doc)
    assert main(["gate", str(path), "--gates", str(write_gates(PASSING))]) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert "broken.json is not a valid results file" in err
    assert '"rounds" is a required property' in err


def test_invalid_run_exits_3_regardless_of_gates(
    write_json: Callable[[str, Any], Path], write_gates: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_json("io.json", make_results(valid=False, reasons=["generator CPU 98%"]))
    junit = tmp_path / "gates.xml"
    gates = write_gates('[[gate]]\nkind = "absolute"\nexpr = "rps > 1"\n')
    assert main(["gate", str(path), "--gates", str(gates), "--junit", str(junit)]) == exitcodes.INVALID_RUN
    root = ET.parse(junit).getroot()  # noqa: S314 - our own output
    errors = root.findall(".//testsuite[@name='run validity']/testcase/error")
    assert len(errors) == 1
    assert "generator CPU 98%" in (errors[0].get("message") or "")


def test_gate_junit_has_one_testcase_per_gate(
    io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path
) -> None:
    junit = tmp_path / "gates.xml"
    gates = write_gates(PASSING + MUST_FAIL)
    assert main(["gate", str(io_results_path), "--gates", str(gates), "--junit", str(junit)]) == 1
    suite = ET.parse(junit).getroot().find("testsuite[@name='quality gates']")  # noqa: S314 - our own output
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 4
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "1"
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["impossible speed-up"]


def test_baseline_save_then_gate_against_it(
    io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "save", str(io_results_path), "-o", str(baseline)]) == exitcodes.OK
    saved = json.loads(baseline.read_text())
    assert saved["format"] == "fastapi-harness.baseline"
    assert saved["profiles"] == ["io"]
    args = ["gate", str(io_results_path), "--gates", str(write_gates(PASSING)), "--baseline", str(baseline)]
    assert main(args) == exitcodes.OK  # A/A against itself: never a failure
    assert main(["baseline", "show", str(baseline)]) == exitcodes.OK


def test_baseline_save_refuses_invalid_run(write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    path = write_json("io.json", make_results(valid=False))
    assert main(["baseline", "save", str(path), "-o", str(tmp_path / "b.json")]) == exitcodes.INVALID_RUN
    assert not (tmp_path / "b.json").exists()


def test_baseline_save_keeps_other_profiles(write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    io = write_json("io.json", make_results(profile="io"))
    cpu = write_json("cpu.json", make_results(profile="cpu"))
    assert main(["baseline", "save", str(io), "-o", str(baseline)]) == 0
    assert main(["baseline", "save", str(cpu), "-o", str(baseline)]) == 0
    assert sorted(json.loads(baseline.read_text())["profiles"]) == ["cpu", "io"]


def test_strict_inconclusive_flag_is_accepted(io_results_path: Path, write_gates: Callable[[str], Path]) -> None:
    args = ["gate", str(io_results_path), "--gates", str(write_gates(PASSING)), "--strict-inconclusive"]
    assert main(args) == exitcodes.OK  # nothing inconclusive here (the baseline gate is skipped)
