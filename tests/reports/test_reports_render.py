"""`harness report`: the four files, a self-contained HTML page, valid JUnit, folded-in extras."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes
from harness.cli import main
from reports.plots import PLOT_KINDS
from reports.render import FILES
from tests.utils.results_factory import Arm, make_bench, make_results

GATES = """
[[gate]]
kind = "relative"
profile = "io"
expr = "rps[io_async] / rps[io_sync] >= 3"

[[gate]]
kind = "absolute"
profile = "io"
expr = "p95 < 500ms"

[[gate]]
kind = "baseline"
profile = "io"
metric = "p95"
max_regression = "10%"
"""


@pytest.fixture
def report_dir(io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path) -> Path:
    out = tmp_path / "report"
    code = main(["report", str(io_results_path), "--gates", str(write_gates(GATES)), "-o", str(out)])
    assert code == exitcodes.OK
    return out


def test_writes_four_files(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (report_dir / name).stat().st_size > 0


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "index.html").read_text(encoding="utf-8")
    lowered = html.lower()
    for forbidden in ('src="http', "src='http", "<link", "<script", "@import", "url(http", 'href="http'):
        assert forbidden not in lowered, forbidden
    assert "<?xml" not in html  # SVG prologues are stripped before inlining


def test_html_has_plots_and_verdicts(report_dir: Path) -> None:
    html = (report_dir / "index.html").read_text(encoding="utf-8")
    assert 'id="verdicts"' in html
    for kind in PLOT_KINDS:
        assert f'data-plot="{kind}"' in html
    assert html.count("<svg") == len(PLOT_KINDS)
    assert 'class="environment"' in html
    svg_ids = re.findall(r'<(?:clipPath|path|g)[^>]* id="([^"]+)"', html)
    assert len(svg_ids) == len(set(svg_ids)), "inline SVGs must not share element ids"


def test_output_is_deterministic(io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path) -> None:
    gates = write_gates(GATES)
    for out in ("a", "b"):
        main(["report", str(io_results_path), "--gates", str(gates), "-o", str(tmp_path / out)])
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_text_is_escaped(write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    doc = make_results({"a<b>": Arm(), "c&d": Arm()}, profile="io")
    doc["description"] = "<script>alert(1)</script>"
    doc["validity"] = {"valid": False, "reasons": ["<img src=x onerror=alert(1)>"]}
    out = tmp_path / "r"
    assert main(["report", str(write_json("io.json", doc)), "-o", str(out)]) == exitcodes.INVALID_RUN
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&lt;b&gt;" in html


def test_junit_parses_with_one_testcase_per_gate(report_dir: Path) -> None:
    root = ET.parse(report_dir / "gates.junit.xml").getroot()  # noqa: S314 - our own output
    suite = root.find("testsuite[@name='quality gates']")
    assert suite is not None
    assert len(suite.findall("testcase")) == 3
    baseline_case = suite.findall("testcase")[2]
    assert baseline_case.find("skipped") is not None  # no --baseline: skipped, not failed


def test_summary_and_results_json(report_dir: Path, io_results: dict[str, Any]) -> None:
    summary = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert "**PASS**" in summary
    assert "| ✅ | io: rps[io_async] / rps[io_sync] >= 3 | pass |" in summary
    assert "Comparisons" in summary
    assert len(summary) < 8000
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    assert data["format"] == "fastapi-harness.report"
    assert data["outcome"] == "pass"
    assert data["results"] == [io_results]
    assert [g["outcome"] for g in data["gates"]["gates"]] == ["pass", "pass", "skipped"]


def test_report_exit_code_follows_gates(
    io_results_path: Path, write_gates: Callable[[str], Path], tmp_path: Path
) -> None:
    gates = write_gates('[[gate]]\nkind = "absolute"\nprofile = "io"\nexpr = "p95 < 1ms"\n')
    out = tmp_path / "r"
    assert main(["report", str(io_results_path), "--gates", str(gates), "-o", str(out)]) == exitcodes.GATE_FAILED
    assert (out / "index.html").exists()  # the report is written even when a gate fails


def test_without_gates_and_with_several_profiles(write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    io = write_json("io.json", make_results(profile="io"))
    cpu = write_json("cpu.json", make_results({"only": Arm()}, profile="cpu"))
    out = tmp_path / "r"
    assert main(["report", str(io), str(cpu), "-o", str(out)]) == exitcodes.OK
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-profile="io"' in html
    assert 'data-profile="cpu"' in html
    assert "no arm of this profile declares a theoretical bound" in html
    root = ET.parse(out / "gates.junit.xml").getroot()  # noqa: S314 - our own output
    assert root.find("testsuite[@name='quality gates']") is not None


def test_extras_are_folded_in(io_results_path: Path, write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    bench = write_json("bench.json", make_bench({"test_hash_password": 0.002, "test_encode_jwt": 0.00005}))
    junit = tmp_path / "schemathesis.xml"
    junit.write_text(
        '<testsuites><testsuite name="schemathesis"><testcase name="GET /items"/>'
        '<testcase name="POST /items"><failure message="500"/></testcase></testsuite></testsuites>',
        encoding="utf-8",
    )
    diff = write_json("diff.json", {"breaking": [{"path": "/items", "change": "removed"}], "changes": []})
    out = tmp_path / "r"
    args = [
        "report",
        str(io_results_path),
        "-o",
        str(out),
        "--bench",
        str(bench),
        "--schemathesis-junit",
        str(junit),
        "--contract-diff",
        str(diff),
    ]
    assert main(args) == exitcodes.OK
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "test_hash_password" in html
    assert "2 tests, 1 failures" in html
    assert "1 breaking change(s)" in html
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["schemathesis"]["failing"] == ["POST /items"]
    assert data["contract_diff"]["breaking"] == 1
    assert len(data["bench"]["benchmarks"]) == 2


def test_bad_extra_input_exits_2(
    io_results_path: Path,
    write_json: Callable[[str, Any], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bogus = write_json("bench.json", {"not": "a benchmark"})
    assert main(["report", str(io_results_path), "-o", str(tmp_path / "r"), "--bench", str(bogus)]) == 2
    assert "not a pytest-benchmark JSON file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # inputs are validated before anything is written


def test_an_invalid_comparison_shows_no_numbers(write_json: Callable[[str, Any], Path], tmp_path: Path) -> None:
    """Its estimate and CI are placeholders (zeros), so printing them would read as a measured ratio of 0."""
    doc = make_results({"a": Arm(), "b": Arm()}, profile="io")
    doc["comparisons"].append({
        "metric": "p99_ms", "numerator": "a", "denominator": "b", "estimate": 0.0, "low": 0.0, "high": 0.0,
        "confidence": 0.95, "verdict": "invalid: not enough data (no round with 1000+ requests)",
    })
    out = tmp_path / "r"
    main(["report", str(write_json("io.json", doc)), "-o", str(out)])
    summary = (out / "summary.md").read_text(encoding="utf-8")
    row = next(line for line in summary.splitlines() if "| p99_ms |" in line)
    assert "[0, 0]" not in row, row
    assert "| 0 |" not in row, row
    assert "not enough data" in row
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "[0, 0]" not in html
    assert "p99_ms: a / b" in html
