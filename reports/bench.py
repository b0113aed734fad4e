"""``harness bench compare``: fail when a microbenchmark regressed against a saved run.

pytest-benchmark can fail a run itself (``pytest --benchmark-compare --benchmark-compare-fail=mean:10%``)
but its standalone ``pytest-benchmark compare`` only prints tables.  This command gives CI the
same decision *after* the fact, from the files in ``--benchmark-storage`` (pytest-benchmark's own
layout ``<storage>/<machine-id>/NNNN_<commit>_<date>.json``) or from two explicit JSON files, and
reuses pytest-benchmark's threshold syntax and regression checks (``parse_compare_fail``), so a
threshold means exactly what it means to ``--benchmark-compare-fail``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_benchmark.utils import parse_compare_fail

from harness import exitcodes
from harness.exitcodes import HarnessError
from reports.results import ResultsError, read_json

_RUN_FILE = re.compile(r"^\d{4}_.*\.json$")
_PLAIN_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


def parse_threshold(text: str) -> Any:
    """``10%`` (= ``mean:10%``), or pytest-benchmark's ``FIELD:N%`` / ``FIELD:SECONDS``."""
    m = _PLAIN_PERCENT.match(text)
    spec = f"mean:{m.group(1)}%" if m else text.strip()
    try:
        return parse_compare_fail(spec)  # type: ignore[no-untyped-call]
    except argparse.ArgumentTypeError:
        raise HarnessError(
            f"threshold {text!r}: expected 'N%' or FIELD:N% / FIELD:SECONDS with FIELD one of "
            "min, max, mean, median, stddev, iqr (pytest-benchmark --benchmark-compare-fail syntax)"
        ) from None


def storage_dir(storage: str) -> Path:
    return Path(storage.removeprefix("file://"))


def saved_runs(storage: Path) -> list[Path]:
    """Saved runs in storage order (run number, then machine id), oldest first."""
    if not storage.is_dir():
        return []
    runs = [p for p in storage.glob("*/*.json") if _RUN_FILE.match(p.name)]
    return sorted(runs, key=lambda p: (p.name[:4], p.parent.name, p.name))


def resolve_run(ref: str, storage: Path) -> Path:
    """A JSON path, or a saved run id such as ``0003`` (pytest-benchmark's numbering)."""
    path = Path(ref)
    if path.is_file():
        return path
    matches = [p for p in saved_runs(storage) if p.name.startswith(ref) or p.stem == ref]
    if len(matches) != 1:
        found = "no saved run" if not matches else f"{len(matches)} saved runs"
        raise HarnessError(f"{ref!r}: {found} matches in {storage} (give a file path or a unique run id)")
    return matches[0]


def pick_runs(storage: Path, current: str | None, baseline: str | None) -> tuple[Path, Path]:
    runs = saved_runs(storage)
    cur = resolve_run(current, storage) if current else (runs[-1] if runs else None)
    if cur is None:
        raise HarnessError(f"no saved benchmark runs in {storage} (run pytest with --benchmark-autosave)")
    if baseline:
        return cur, resolve_run(baseline, storage)
    older = [p for p in runs if p != cur and p.name[:4] < cur.name[:4]]
    same_machine = [p for p in older if p.parent == cur.parent]
    candidates = same_machine or older
    if not candidates:
        raise HarnessError(f"no saved run older than {cur.name} in {storage} to compare with")
    return cur, candidates[-1]


def load_stats(path: Path) -> dict[str, dict[str, float]]:
    data = read_json(path, what="pytest-benchmark")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    out = {}
    for bench in data["benchmarks"]:
        name = bench.get("fullname") or bench.get("name")
        if not name or not isinstance(bench.get("stats"), dict):
            raise ResultsError(f"{path}: benchmark without name or stats")
        out[str(name)] = {k: float(v) for k, v in bench["stats"].items() if isinstance(v, int | float)}
    return out


@dataclass(frozen=True)
class Row:
    name: str
    field: str
    baseline: float | None
    current: float | None
    failure: str | None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return self.current / self.baseline - 1.0


def compare(current: Path, baseline: Path, checks: Sequence[Any]) -> list[Row]:
    cur, base = load_stats(current), load_stats(baseline)
    rows = []
    for name in sorted(set(cur) | set(base)):
        for check in checks:
            field = check.field
            a, b = base.get(name, {}).get(field), cur.get(name, {}).get(field)
            failure = None
            if a is not None and b is not None:
                failure = check.fails(cur[name], base[name])
            rows.append(Row(name, field, a, b, failure))
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    width = max([len(r.name) for r in rows] + [9])
    lines = [f"{'benchmark':<{width}}  field   {'baseline':>12}  {'current':>12}  {'change':>8}  verdict"]
    for r in rows:
        a = f"{r.baseline * 1e6:10.2f}us" if r.baseline is not None else f"{'-':>12}"
        b = f"{r.current * 1e6:10.2f}us" if r.current is not None else f"{'-':>12}"
        change = f"{r.change:+8.1%}" if r.change is not None else f"{'-':>8}"
        verdict = (
            ("REGRESSED: " + r.failure)
            if r.failure
            else ("ok" if r.change is not None else "new" if r.baseline is None else "missing in current")
        )
        lines.append(f"{r.name:<{width}}  {r.field:<6}  {a}  {b}  {change}  {verdict}")
    return "\n".join(lines)


def run_compare(storage: str, current: str | None, baseline: str | None, thresholds: Sequence[str]) -> int:
    checks = [parse_threshold(t) for t in thresholds]
    cur, base = pick_runs(storage_dir(storage), current, baseline)
    rows = compare(cur, base, checks)
    print(f"current:  {cur}\nbaseline: {base}\n")
    print(format_rows(rows))
    failed = [r for r in rows if r.failure]
    if failed:
        print(f"\n{len(failed)} benchmark check(s) regressed beyond the threshold")
        return exitcodes.GATE_FAILED
    print("\nno benchmark regressed beyond the threshold")
    return exitcodes.OK
