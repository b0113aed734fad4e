"""Other CI outputs folded into the report: pytest-benchmark JSON, schemathesis JUnit, contract diff.

Each reader returns a small plain dict (JSON-serialisable) so the renderers and ``results.json``
share one shape, and raises :class:`ResultsError` (exit 2) on unreadable input.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reports.results import ResultsError, read_json


def read_bench(path: Path) -> dict[str, Any]:
    """The benchmarks of a pytest-benchmark ``--benchmark-json`` / storage file."""
    data = read_json(path, what="pytest-benchmark")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    rows = []
    for bench in data["benchmarks"]:
        stats = bench.get("stats") or {}
        try:
            rows.append(
                {
                    "name": str(bench.get("fullname") or bench["name"]),
                    "group": bench.get("group"),
                    "mean_s": float(stats["mean"]),
                    "stddev_s": float(stats.get("stddev", 0.0)),
                    "min_s": float(stats.get("min", stats["mean"])),
                    "median_s": float(stats.get("median", stats["mean"])),
                    "ops": float(stats.get("ops") or (1.0 / stats["mean"] if stats["mean"] else 0.0)),
                    "rounds": int(stats.get("rounds", 0)),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{path}: benchmark {bench.get('name')!r} has no usable stats ({exc})") from exc
    commit = data.get("commit_info") or {}
    return {
        "source": str(path),
        "datetime": data.get("datetime"),
        "commit": commit.get("id"),
        "benchmarks": sorted(rows, key=lambda r: r["name"]),
    }


def read_junit_counts(path: Path) -> dict[str, Any]:
    """tests/failures/errors/skipped totals of a JUnit XML file (e.g. schemathesis' ``--junit``)."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - our own CI artefact
    except (OSError, ET.ParseError) as exc:
        raise ResultsError(f"cannot read JUnit file {path}: {exc}") from exc
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuite", "testsuites"):
        raise ResultsError(f"{path}: not JUnit XML (root element <{root.tag}>)")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failing: list[str] = []
    for suite in suites:
        for case in suite.iter("testcase"):
            counts["tests"] += 1
            for kind, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                if case.find(kind) is not None:
                    counts[key] += 1
                    if key != "skipped":
                        failing.append(case.get("name") or "?")
    return {"source": str(path), **counts, "failing": failing[:20]}


def _breaking_count(data: Any) -> int | None:
    if isinstance(data, list):
        return sum(1 for c in data if isinstance(c, dict) and (c.get("breaking") or c.get("level") == "breaking"))
    if not isinstance(data, dict):
        return None
    for key in ("breaking_count", "breaking"):
        value = data.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, list):
            return len(value)
    for key in ("summary", "counts"):
        nested = data.get(key)
        if isinstance(nested, dict):
            found = _breaking_count(nested)
            if found is not None:
                return found
    changes = data.get("changes")
    return _breaking_count(changes) if isinstance(changes, list) else None


def read_contract_diff(path: Path) -> dict[str, Any]:
    """The breaking-change count of a contract diff (``breaking``/``breaking_count``/``changes``)."""
    data = read_json(path, what="contract diff")
    breaking = _breaking_count(data)
    if breaking is None:
        raise ResultsError(
            f"{path}: cannot find a breaking-change count (expected 'breaking_count', a 'breaking' list, "
            "'summary.breaking' or 'changes' with 'breaking' flags)"
        )
    total = None
    if isinstance(data, dict) and isinstance(data.get("changes"), list):
        total = len(data["changes"])
    elif isinstance(data, list):
        total = len(data)
    return {"source": str(path), "breaking": breaking, "changes": total}
