"""The baseline file (``reports/baseline.json``): the results a future run is compared with.

It holds complete, schema-valid results documents (one per profile) so that baseline gates can
compare with the baseline's rounds, not just two medians, and the ``history`` of the last N saved
runs (``reports.history``: compact per-arm medians, for ``harness history`` and the report's
history plots).  Only valid runs can become a baseline: a saturated or broken run would make every
later comparison meaningless.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError
from reports import history as run_history
from reports.results import ResultsError, RunSet, read_json, validate

FORMAT = "fastapi-harness.baseline"
FORMAT_VERSION = 1
DEFAULT_PATH = Path("reports/baseline.json")


def to_document(runset: RunSet, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": runset.run_id,
        "profiles": runset.profiles,
        "results": list(runset.docs),
        "history": history or [],
    }


def load_history(path: Path) -> list[dict[str, Any]]:
    """The stored run history of a baseline file (empty for plain results files and older baselines)."""
    data = read_json(Path(path), what="baseline")
    entries = data.get("history", []) if isinstance(data, dict) and data.get("format") == FORMAT else []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "run_id" in e for e in entries):
        raise ResultsError(f"{path}: 'history' must be a list of runs with a run_id")
    return entries


def save(runset: RunSet, path: Path, *, merge: bool = True, keep: int = run_history.DEFAULT_KEEP) -> RunSet:
    """Write ``runset`` as the baseline and append it to the history (the newest ``keep`` runs);
    with ``merge``, profiles not in it keep their old baseline."""
    if not runset.valid:
        raise HarnessError(
            "refusing to save an invalid run as the baseline: " + "; ".join(runset.invalid_reasons),
            exitcodes.INVALID_RUN,
        )
    docs = list(runset.docs)
    old_history: list[dict[str, Any]] = []
    if path.exists():
        old_history = load_history(path)
        if merge:
            old = load(path)
            docs += [d for d in old.docs if d["profile"] not in runset.profiles]
    combined = RunSet.from_docs(docs)
    history = run_history.append(old_history, runset, keep=keep)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_document(combined, history), indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return combined


def load(path: Path) -> RunSet:
    """Read a baseline file; a plain results file (or a list of them) is accepted as well."""
    data = read_json(Path(path), what="baseline")
    docs: Sequence[Any]
    if isinstance(data, dict) and data.get("format") == FORMAT:
        if data.get("format_version") != FORMAT_VERSION:
            raise ResultsError(f"{path}: baseline format_version {data.get('format_version')!r} is not supported")
        docs = data.get("results") or []
    elif isinstance(data, list):
        docs = data
    else:
        docs = [data]
    if not isinstance(docs, list) or not docs:
        raise ResultsError(f"{path}: baseline holds no results")
    return RunSet.from_docs(validate(d, source=f"{path} (baseline, entry {i})") for i, d in enumerate(docs))
