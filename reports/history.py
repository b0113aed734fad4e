"""Run history: the last N saved runs' gated figures, and the change points among them.

``harness baseline save`` appends each saved run to the baseline file's ``history`` (one compact
entry per run: run id, time, plan, and per profile / arm the median over measured rounds of rps,
p95 and p99), keeping the newest ``keep`` entries. One run against one baseline can only say
"different from that run"; a series of runs shows *when* a metric moved, and a level shift that
crept in over several small steps.

Change points are found by Apache Otava (``otava.analysis.compute_change_points``: the Hunter
variant of the E-divisive means algorithm, Matteson & James 2014, Fleming et al. 2023), never by a
detector of our own. A change point counts only when its relative size is at least the margin of
the plan the runs were measured with (``reports.plans``): a shift smaller than the plan can resolve is
not a verdict, here as in the comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError
from reports.metrics import METRICS, plan_margin, round_values
from reports.results import Json, RunSet, arm_names
from reports.stats import median

DEFAULT_KEEP = 20
HISTORY_METRICS = ("rps", "p95", "p99")
MAX_PVALUE = 0.001  # Otava's default significance for a change point
WINDOW = 30  # Otava's sliding window, in runs
MIN_RUNS = 4  # fewer runs than this cannot show a change with Otava's t-test


@dataclass(frozen=True)
class ChangePoint:
    index: int  # first run after the change
    run_id: str
    before: float
    after: float
    pvalue: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1.0 if self.before else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "run_id": self.run_id, "before": self.before, "after": self.after,
                "change": self.change, "pvalue": self.pvalue}


@dataclass(frozen=True)
class Series:
    profile: str
    arm: str
    metric: str
    run_ids: tuple[str, ...]
    values: tuple[float, ...]
    margin: float
    change_points: tuple[ChangePoint, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.profile}/{self.arm} {self.metric}"


def entry(doc: Json) -> dict[str, Any]:
    """One run of one profile, compactly: what the history plots and the detector need."""
    arms: dict[str, dict[str, float | None]] = {}
    for arm in arm_names(doc):
        values = {}
        for m in HISTORY_METRICS:
            rounds = round_values(doc, arm, METRICS[m])
            values[m] = median(rounds) if rounds else None
        arms[arm] = values
    plan = doc["config"].get("plan") or {}
    margins = {m: plan_margin(doc, METRICS[m]) for m in HISTORY_METRICS}
    return {"run_id": doc["run_id"], "created_at": doc["created_at"], "plan": plan.get("name"),
            "margins": margins, "arms": arms}


def append(history: Sequence[Mapping[str, Any]], runset: RunSet, *, keep: int = DEFAULT_KEEP) -> list[dict[str, Any]]:
    """``history`` (a list of {run_id, created_at, profiles: {profile: entry}}) plus ``runset``, newest last."""
    if keep < 1:
        raise HarnessError("--keep must be >= 1", exitcodes.USAGE)
    run = {"run_id": runset.run_id, "created_at": max(d["created_at"] for d in runset.docs),
           "profiles": {d["profile"]: entry(d) for d in runset.docs}}
    kept = [dict(h) for h in history if h.get("run_id") != runset.run_id]
    kept.append(run)
    kept.sort(key=lambda h: str(h.get("created_at", "")))
    return kept[-keep:]


def series(history: Sequence[Mapping[str, Any]], current: RunSet | None = None) -> list[Series]:
    """One series per (profile, arm, metric) with at least one value, in run order; ``current`` last."""
    runs: list[Mapping[str, Any]] = list(history)
    if current is not None and all(h.get("run_id") != current.run_id for h in history):
        runs.append({"run_id": current.run_id, "profiles": {d["profile"]: entry(d) for d in current.docs}})
    keys: dict[tuple[str, str, str], None] = {}
    for run in runs:
        for profile, e in run.get("profiles", {}).items():
            for arm in e.get("arms", {}):
                for m in HISTORY_METRICS:
                    keys[(profile, arm, m)] = None
    out = []
    for profile, arm, m in keys:
        ids, values, margin = [], [], 0.0
        for run in runs:
            e = run.get("profiles", {}).get(profile)
            value = ((e or {}).get("arms", {}).get(arm) or {}).get(m)
            if value is None:
                continue
            ids.append(str(run["run_id"]))
            values.append(float(value))
            margin = max(margin, float((e or {}).get("margins", {}).get(m, 0.0)))
        if values:
            out.append(Series(profile, arm, m, tuple(ids), tuple(values), margin))
    return out


def detect(s: Series) -> Series:
    """``s`` with Otava's change points whose size reaches the series' margin."""
    if len(s.values) < MIN_RUNS:
        return s
    try:
        from otava.analysis import compute_change_points
    except ImportError as exc:  # pragma: no cover - the history extra is part of the test install
        raise HarnessError("change-point detection needs Apache Otava: pip install 'fastapi-harness[history]'",
                           exitcodes.USAGE) from exc
    found, _weak = compute_change_points(list(s.values), window_len=WINDOW, max_pvalue=MAX_PVALUE)
    points = []
    for cp in found:
        index = int(cp.index)
        before, after = float(cp.stats.mean_1), float(cp.stats.mean_2)
        point = ChangePoint(index, s.run_ids[index], before, after, float(cp.stats.pvalue))
        if abs(point.change) >= s.margin:
            points.append(point)
    return Series(s.profile, s.arm, s.metric, s.run_ids, s.values, s.margin, tuple(points))


def analyse(history: Sequence[Mapping[str, Any]], current: RunSet | None = None,
            wanted: set[tuple[str, str, str]] | None = None) -> list[Series]:
    """Detected series, optionally only the (profile, arm, metric) triples in ``wanted``."""
    return [detect(s) for s in series(history, current)
            if wanted is None or (s.profile, s.arm, s.metric) in wanted]


def gated(specs: Sequence[Any], runset: RunSet) -> set[tuple[str, str, str]]:
    """(profile, arm, metric) of every gate on rps/p95/p99: the figures the report plots over time."""
    out: set[tuple[str, str, str]] = set()
    for spec in specs:
        if spec.metric.name not in HISTORY_METRICS or (spec.kind == "absolute" and not spec.metric.per_round):
            continue
        docs = [d for d in runset.docs if spec.profile in (None, d["profile"])]
        for doc in docs:
            arms = [a for a in (spec.arm, spec.numerator, spec.denominator) if a] or arm_names(doc)
            out.update((doc["profile"], a, spec.metric.name) for a in arms)
    return out
