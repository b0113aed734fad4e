"""Writing a report directory: ``index.html``, ``summary.md``, ``gates.junit.xml``, ``results.json``.

The JUnit file is always written; without gates it holds only the run-validity suite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from reports import baseline as baseline_file
from reports import extras, history, html, junit, markdown
from reports.gates import Evaluation, evaluate
from reports.gatespec import load_gates
from reports.model import ReportData
from reports.results import RunSet, load_runset

FILES = ("index.html", "summary.md", "gates.junit.xml", "results.json")


def gather(
    results: Sequence[Path | str],
    *,
    gates: Path | None = None,
    baseline: Path | None = None,
    strict_inconclusive: bool = False,
    bench: Path | None = None,
    schemathesis_junit: Path | None = None,
    contract_diff: Path | None = None,
) -> ReportData:
    """Read and validate every input (raising exit-2 errors before anything is written)."""
    runset = load_runset(results)
    base = baseline_file.load(baseline) if baseline is not None else None
    evaluation = None
    specs = load_gates(gates) if gates is not None else None
    if specs is not None:
        evaluation = evaluate(specs, runset, base, strict_inconclusive=strict_inconclusive)
    series = None
    if baseline is not None:
        stored = baseline_file.load_history(baseline)
        wanted = history.gated(specs, runset) if specs else None
        series = tuple(history.analyse(stored, runset, wanted)) if stored else ()
    return ReportData(
        runset=runset,
        evaluation=evaluation,
        baseline_source=str(baseline) if baseline is not None else None,
        bench=extras.read_bench(bench) if bench is not None else None,
        schemathesis=extras.read_junit_counts(schemathesis_junit) if schemathesis_junit is not None else None,
        contract_diff=extras.read_contract_diff(contract_diff) if contract_diff is not None else None,
        history=series,
    )


def write(data: ReportData, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in FILES}
    paths["index.html"].write_text(html.render(data), encoding="utf-8")
    paths["summary.md"].write_text(markdown.render(data), encoding="utf-8")
    evaluation = data.evaluation or Evaluation(gates=[], invalid_reasons=data.runset.invalid_reasons)
    junit.write(paths["gates.junit.xml"], evaluation, data.runset)
    text = json.dumps(data.as_dict(), indent=2, sort_keys=True, allow_nan=False)
    paths["results.json"].write_text(text + "\n", encoding="utf-8")
    return paths


def default_out_dir(runset: RunSet) -> Path:
    return Path("reports") / "runs" / runset.run_id.replace("/", "_")
