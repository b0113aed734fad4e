"""Verdicts and the report of ``harness compare``: head/base ratios judged against the allowed regression.

Each metric's head/base ratio comes with its confidence interval (``reports.stats.ratio_ci``, the exact
Hodges-Lehmann/Mann-Whitney interval on the per-round values of the two sides, as the gates take them)
and is judged as a baseline gate judges current/baseline (``reports.gates.baseline_outcome``). With
``r`` the allowed regression:

* **fail**: the whole interval is beyond it (rps below ``1 - r``, a latency above ``1 + r``);
* **pass**: the whole interval is within it;
* **inconclusive**: the interval straddles the limit: the run can't tell.

The allowed region holds 1, so a revision compared with itself can only fail when the interval
misses 1 altogether, which interleaved rounds make rare (docs/compare.md has the measured figures).
Four verdicts are drawn from one run, so each interval is taken at 1 - 0.05/4 (Bonferroni): the
chance that any of them fails a change that is within the allowance stays under 2.5%.
The verdicts are written as gates (``reports.gates.GateResult``), so the HTML report, the JUnit file
and the report's results.json show them with the run, and ``summary.md`` starts with their table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contracts.model import DiffReport
from reports import render as report_render
from reports.gates import Check, Evaluation, GateResult, Outcome, baseline_outcome
from reports.gatespec import GateSpec
from reports.metrics import ArmRounds, arm_rounds, format_value, resolve, rounds_ratio_ci
from reports.stats import DEFAULT_CONFIDENCE

MetricName = Literal["rps", "p50", "p95", "p99"]
COMPARED: tuple[MetricName, ...] = ("rps", "p50", "p95", "p99")
BASE, HEAD = "base", "head"
ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "invalid": "🚫"}
MAX_SUMMARY_CHANGES = 15


@dataclass(frozen=True)
class Verdict:
    metric: str
    outcome: Outcome
    limit: float
    base: float | None  # median of the base's rounds
    head: float | None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("metric", "outcome", "limit", "base", "head", "estimate", "low",
                                                "high", "confidence", "detail")}


def _median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def family_confidence(metrics: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Each interval's level so that all ``metrics`` of them hold together at ``confidence`` (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / max(1, metrics)


def judge(doc: Mapping[str, Any], max_regression: float, *, confidence: float | None = None,
          metrics: Sequence[MetricName] = COMPARED) -> list[Verdict]:
    """One verdict per metric for the ``head`` arm against the ``base`` arm of a results document."""
    if not 0 < max_regression < 1:
        raise ValueError("max_regression must be in (0, 1)")
    if confidence is None:
        confidence = family_confidence(len(metrics))
    rows = dict(doc)
    verdicts = []
    for name in metrics:
        metric = resolve(name)
        verdicts.append(verdict(name, arm_rounds(rows, BASE, metric), arm_rounds(rows, HEAD, metric),
                                max_regression, confidence))
    return verdicts


def verdict(name: MetricName, a: ArmRounds, b: ArmRounds, max_regression: float, confidence: float) -> Verdict:
    """The verdict on one metric from the base's rounds ``a`` and the head's ``b``, each with its
    percentile resolution (None is Locust's buckets, 1 ms wide below 100 ms); also what
    ``reports.calibration`` simulates compare's plans through."""
    metric = resolve(name)
    higher = metric.higher_is_better
    limit = 1.0 - max_regression if higher else 1.0 + max_regression
    base, head = _median(a.values), _median(b.values)
    if not a.values or not b.values or min(*a.values, *b.values) <= 0:
        return Verdict(name, "inconclusive", limit, base, head,
                       detail="no usable rounds on one side (a round without successful requests)")
    ci = rounds_ratio_ci(a, b, metric, confidence=confidence)
    outcome = baseline_outcome(ci.low, ci.high, limit, higher_is_better=higher)
    where = {"pass": "whole CI within", "fail": "whole CI beyond", "inconclusive": "CI straddles"}[outcome]
    detail = (f"head/base {ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}] ({ci.confidence:.1%} CI); {where} "
              f"the allowed {'>=' if higher else '<='} {limit:.3g} ({format_value(base, metric.unit)} -> "
              f"{format_value(head, metric.unit)})")
    return Verdict(name, outcome, limit, base, head, ci.estimate, ci.low, ci.high, ci.confidence, detail)


def overall(verdicts: Sequence[Verdict], *, valid: bool = True) -> str:
    if not valid:
        return "invalid"
    outcomes = {v.outcome for v in verdicts}
    return "fail" if "fail" in outcomes else "inconclusive" if "inconclusive" in outcomes else "pass"


def evaluation(verdicts: Sequence[Verdict], profile: str, max_regression: float, *, invalid_reasons: list[str],
               strict_inconclusive: bool) -> Evaluation:
    """The verdicts as gates, so every report renderer (HTML, JUnit, results.json) shows them."""
    gates = []
    for i, v in enumerate(verdicts):
        spec = GateSpec(index=i, name=f"compare {v.metric} head/base", kind="baseline", metric=resolve(v.metric),
                        profile=profile, arm=HEAD, max_regression=max_regression,
                        description=f"{v.metric}: head vs base within {max_regression:.0%}")
        check = Check(f"{HEAD}/{BASE}", v.outcome, v.detail, value=v.estimate, low=v.low, high=v.high)
        gates.append(GateResult(spec, v.outcome, v.detail, (check,)))
    return Evaluation(gates=gates, invalid_reasons=invalid_reasons, strict_inconclusive=strict_inconclusive)


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def summary_markdown(info: Mapping[str, Any], verdicts: Sequence[Verdict], contract: DiffReport | None,
                     *, outcome: str, invalid_reasons: Sequence[str] = ()) -> str:
    """``summary.md``: verdict table first, then the contract diff, then what was compared; < 60 lines."""
    limit = info["max_regression"]
    lines = [f"## {ICONS.get(outcome, '')} harness compare: **{outcome.upper()}** "
             f"(allowed regression {limit:.0%})", "",
             "| | metric | base | head | head/base | CI | verdict |", "|---|---|---|---|---|---|---|"]
    for v in verdicts:
        unit = resolve(v.metric).unit
        ci = "-" if v.low is None else f"[{v.low:.3f}, {v.high:.3f}] ({_fmt(v.confidence, '.1%')})"
        lines.append(f"| {ICONS[v.outcome]} | {v.metric} | {format_value(v.base, unit)} | "
                     f"{format_value(v.head, unit)} | {_fmt(v.estimate)} | {ci} | {v.outcome} |")
    if invalid_reasons:
        lines += ["", "**Invalid run**: the verdicts can't be trusted:"]
        lines += [f"- {r}" for r in list(invalid_reasons)[:5]]
    lines += [""]
    if contract is None:
        lines.append("Contract diff: not computed.")
    else:
        s = contract.summary()
        lines.append(f"**Contract diff base → head**: {s['breaking']} breaking, {s['accepted']} accepted, "
                     f"{s['non_breaking']} non-breaking")
        from contracts.render import operation_of

        shown = sorted(contract.changes, key=lambda c: not c.failing)[:MAX_SUMMARY_CHANGES]
        for change in shown:
            mark = "**breaking**" if change.failing else change.status
            lines.append(f"- {mark} `{change.rule}` {operation_of(change)}: {' '.join(change.reason.split())[:140]}")
        if len(contract.changes) > len(shown):
            lines.append(f"- ... {len(contract.changes) - len(shown)} more in contract-diff.md")
    lines += ["", f"base `{info['base']['label']}` · head `{info['head']['label']}` · "
              f"experiment `{info['experiment']}` ({info['rounds']} rounds/side x {info['round_seconds']:g} s, "
              f"interleaved) · {info['elapsed_s']:.0f} s",
              f"Environments: base {info['base']['env']}; head {info['head']['env']}.",
              "Full report: `index.html` (artifact)."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, load_results: Path, verdicts: Sequence[Verdict], contract: DiffReport | None,
                 info: dict[str, Any], *, strict_inconclusive: bool) -> tuple[str, int]:
    """index.html, gates.junit.xml, results.json (reports/), then compare.json and summary.md.

    Returns the overall outcome and the exit code."""
    contract_path = None
    if contract is not None:
        from contracts.render import render_json, render_markdown

        contract_path = out / "contract-diff.json"
        contract_path.write_text(render_json(contract), encoding="utf-8")
        (out / "contract-diff.md").write_text(render_markdown(contract, "Contract diff base -> head"),
                                              encoding="utf-8")
    data = report_render.gather([load_results], contract_diff=contract_path)
    ev = evaluation(verdicts, data.runset.profiles[0], info["max_regression"],
                    invalid_reasons=data.runset.invalid_reasons, strict_inconclusive=strict_inconclusive)
    data = type(data)(runset=data.runset, evaluation=ev, contract_diff=data.contract_diff)
    report_render.write(data, out)
    outcome = ev.outcome
    doc = {"format": "fastapi-harness.compare", "format_version": 1, **info, "outcome": outcome,
           "exit_code": ev.exit_code, "verdicts": [v.as_dict() for v in verdicts],
           "invalid_reasons": data.runset.invalid_reasons,
           "contract_diff": None if contract is None else json.loads((out / "contract-diff.json").read_text()),
           "load_results": str(load_results)}
    (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(info, verdicts, contract, outcome=outcome,
                                                     invalid_reasons=data.runset.invalid_reasons), encoding="utf-8")
    return outcome, ev.exit_code
