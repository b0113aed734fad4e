"""``summary.md``: the short version for a GitHub job summary (outcome, gates, comparisons with CIs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reports.metrics import detectable
from reports.model import ReportData

ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "skipped": "⏭️", "invalid": "🚫", "no gates": ""}
MAX_DETAIL = 160


def _cell(text: object) -> str:
    """Table-safe Markdown: pipes escaped, newlines flattened, long text cut."""
    s = " ".join(str(text).split()).replace("|", "\\|")
    return s if len(s) <= MAX_DETAIL else s[: MAX_DETAIL - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render(data: ReportData) -> str:
    runset = data.runset
    outcome = data.outcome
    lines = [f"## {ICONS.get(outcome, '')} Harness report `{runset.run_id}`: **{outcome.upper()}**", ""]
    lines.append(
        f"Profiles: {', '.join(runset.profiles)}"
        + (f" · baseline: `{data.baseline_source}`" if data.baseline_source else "")
    )
    if runset.invalid_reasons:
        lines += ["", "**Invalid run** — results can't be trusted, gates are not decisive:", ""]
        lines += [f"- {_cell(r)}" for r in runset.invalid_reasons]
    if data.evaluation is not None and data.evaluation.gates:
        counts = ", ".join(f"{n} {k}" for k, n in data.evaluation.counts().items() if n)
        lines += ["", f"### Gates ({counts})", ""]
        lines += _table(
            ["", "gate", "outcome", "detail"],
            ([ICONS[g.outcome], g.spec.name, g.outcome, g.detail] for g in data.evaluation.gates),
        )
    comparisons = [(doc["profile"], c) for doc in runset.docs for c in doc["comparisons"]]
    if comparisons:
        lines += ["", "### Comparisons (Hodges-Lehmann ratio, exact CI at its attained confidence)", ""]
        lines += _table(
            ["profile", "metric", "ratio", "estimate", "CI", "detectable", "verdict"],
            (
                [
                    p,
                    c["metric"],
                    f"{c['numerator']} / {c['denominator']}",
                    f"{c['estimate']:.3g}",
                    f"[{c['low']:.3g}, {c['high']:.3g}] ({c['confidence']:.1%})",
                    detectable(c),
                    c["verdict"],
                ]
                for p, c in comparisons
            ),
        )
    if data.history:
        moved = [(s, c) for s in data.history for c in s.change_points]
        lines += ["", f"### History ({len(data.history)} gated series over the stored runs)", ""]
        lines += [f"- {_cell(s.label)}: change point at run `{c.run_id}`, {c.before:.4g} → {c.after:.4g} "
                  f"({c.change:+.1%})" for s, c in moved] or ["- no change point (Apache Otava, p ≤ 0.001)"]
    extra = []
    if data.bench is not None:
        extra.append(f"{len(data.bench['benchmarks'])} microbenchmarks")
    if data.schemathesis is not None:
        s = data.schemathesis
        extra.append(f"schemathesis: {s['tests']} tests, {s['failures'] + s['errors']} failing")
    if data.contract_diff is not None:
        extra.append(f"contract diff: {data.contract_diff['breaking']} breaking change(s)")
    if extra:
        lines += ["", "Also: " + "; ".join(extra) + "."]
    lines += ["", "Full report with plots: `index.html` (artifact)."]
    return "\n".join(lines) + "\n"
