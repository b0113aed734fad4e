"""``index.html``: one self-contained page (inline CSS and SVG; no scripts, fonts or links).

Every piece of text from the inputs goes through :func:`html.escape`; the only unescaped markup
is the SVG matplotlib produced (which escapes its own text).  Plots sit in
``<figure class="plot" data-plot="KIND" data-profile="PROFILE">`` and the verdict table is
``<table id="verdicts">`` so browser tests and readers can find them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from reports import plots
from reports.gates import GateResult
from reports.metrics import METRICS, arm_value, detectable, format_value, round_values
from reports.model import ReportData
from reports.results import Json
from reports.stats import median_ci

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1rem 2rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.outcome{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.o-pass{background:#1a7f37}.o-fail{background:#cf222e}.o-inconclusive{background:#9a6700}
.o-invalid{background:#6e40c9}.o-skipped,.o-info,.o-no-gates{background:#57606a}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1rem}
figure.plot{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:.5rem;background:#fff}
figure.plot svg{width:100%;height:auto}figcaption{font-size:.85rem;color:#57606a}
.note{color:#57606a;font-size:.9rem}.reasons{color:#cf222e}
"""

PLOT_CAPTIONS = {
    "throughput": "Median requests/s per arm over measured rounds; error bars: the exact order-statistic CI of "
    "the median at the confidence it attains (axis label); dots: individual rounds.",
    "latency-percentiles": "Latency quantiles p50..p99.9 (median over measured rounds) per arm; log scale.",
    "timeline": "rps and p95 of every round in run order; hollow markers are warm-up rounds (excluded from "
    "statistics). Drift or a step here means the machine, not the arm, changed.",
    "bound": "Measured median rps divided by the arm's theoretical bound (Little's law, thread pool or rate "
    "limit). Near 1: the bound explains the throughput; far below: something else limits it.",
}


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    attrs: str = "",
    raw_cols: frozenset[int] = frozenset(),
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = str(cell) if i in raw_cols else _e(cell)
            cls = ' class="num"' if isinstance(cell, int | float) and not isinstance(cell, bool) else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def badge(outcome: str) -> str:
    return f'<span class="outcome o-{_e(outcome.replace(" ", "-"))}">{_e(outcome.upper())}</span>'


def _ci_text(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:.3g}, {high:.3g}]"


def _gate_rows(gates: Sequence[GateResult]) -> list[list[object]]:
    rows: list[list[object]] = []
    for g in gates:
        spec = g.spec
        lows = [c.low for c in g.checks if c.low is not None]
        highs = [c.high for c in g.checks if c.high is not None]
        values = [c.value for c in g.checks if c.value is not None]
        single = len(g.checks) == 1
        if spec.kind == "baseline":
            threshold = f"regression ≤ {spec.max_regression:.0%}"
        elif spec.kind == "absolute" and spec.threshold is not None:
            threshold = f"{spec.op} {format_value(spec.threshold, spec.metric.unit)}"
        else:
            threshold = f"{spec.op} {spec.threshold:g}"
        rows.append(
            [
                f"gate: {spec.kind}",
                _e(spec.name),
                _e(spec.profile or ""),
                badge(g.outcome),
                f"{values[0]:.4g}" if single and values else "",
                _ci_text(lows[0], highs[0]) if single and lows and highs else "",
                _e(threshold),
                _e(g.detail),
            ]
        )
    return rows


def _comparison_rows(docs: Sequence[Json]) -> list[list[object]]:
    rows: list[list[object]] = []
    for doc in docs:
        for c in doc["comparisons"]:
            outcome = "invalid" if str(c["verdict"]).startswith("invalid") else "info"
            rows.append(
                [
                    "comparison",
                    _e(f"{c['metric']}: {c['numerator']} / {c['denominator']}"),
                    _e(doc["profile"]),
                    badge(outcome),
                    f"{c['estimate']:.4g}",
                    _e(_ci_text(c["low"], c["high"])),
                    "",
                    _e(f"{c['verdict']} ({c['confidence']:.1%} CI; {detectable(c)})"),
                ]
            )
    return rows


def verdicts(data: ReportData) -> str:
    rows = _gate_rows(data.evaluation.gates if data.evaluation else [])
    rows += _comparison_rows(data.runset.docs)
    if not rows:
        rows = [["", "no gates given and no comparisons in the results", "", "", "", "", "", ""]]
    return table(
        ["type", "name", "profile", "outcome", "estimate", "CI", "threshold", "detail"],
        rows,
        attrs=' id="verdicts"',
        raw_cols=frozenset(range(8)),
    )


def _plot(kind: str, profile: str, svg: str | None) -> str:
    body = svg if svg is not None else '<p class="note">no arm of this profile declares a theoretical bound</p>'
    return (
        f'<figure class="plot" data-plot="{_e(kind)}" data-profile="{_e(profile)}">{body}'
        f"<figcaption>{_e(PLOT_CAPTIONS[kind])}</figcaption></figure>"
    )


def _arm_table(doc: Json) -> str:
    rows = []
    for arm in doc["arms"]:
        name = arm["name"]
        rps = round_values(doc, name, METRICS["rps"])
        ci = median_ci(rps) if rps else None
        bound = arm["bound"]
        rows.append(
            [
                name,
                arm["server"],
                arm["workers"],
                len(rps),
                f"{ci[0]:.1f} [{ci[1]:.1f}, {ci[2]:.1f}] ({ci[3]:.0%})" if ci else "n/a",
                *(format_value(arm_value(doc, name, METRICS[m]), "ms") for m in ("p50", "p95", "p99")),
                format_value(arm_value(doc, name, METRICS["error_rate"]), "fraction"),
                format_value(arm_value(doc, name, METRICS["rate_limited_fraction"]), "fraction"),
                "none" if bound is None else f"{bound['rps']:g} rps ({bound['kind']})",
                format_value(arm_value(doc, name, METRICS["measured_over_bound"]), "ratio"),
            ]
        )
    return table(
        [
            "arm",
            "server",
            "workers",
            "rounds",
            "median rps [CI] (attained confidence)",
            "p50",
            "p95",
            "p99",
            "error rate",
            "429 fraction",
            "bound",
            "measured/bound",
        ],
        rows,
        attrs=' class="arms"',
    )


def environment(doc: Json) -> str:
    env, cfg = doc["environment"], doc["config"]
    rows: list[tuple[str, Any]] = [("run_id", doc["run_id"]), ("created_at", doc["created_at"])]
    rows += [(k, env.get(k)) for k in ("git_sha", "hostname", "cpu_count", "python", "platform", "backend")]
    rows += [(f"package {k}", v) for k, v in sorted(env.get("packages", {}).items())]
    rows += [(f"config {k}", v if isinstance(v, str) else json.dumps(v)) for k, v in sorted(cfg.items())]
    return table(["key", "value"], rows, attrs=f' class="environment" id="environment-{_e(doc["profile"])}"')


def profile_section(doc: Json) -> str:
    profile = doc["profile"]
    validity = doc["validity"]
    status = badge("pass" if validity["valid"] else "invalid")
    reasons = "".join(f"<li>{_e(r)}</li>" for r in validity["reasons"])
    figures = [
        _plot("throughput", profile, plots.throughput(doc)),
        _plot("latency-percentiles", profile, plots.latency_percentiles(doc)),
        _plot("timeline", profile, plots.timeline(doc)),
        _plot("bound", profile, plots.bound(doc)),
    ]
    return (
        f'<section class="profile" id="profile-{_e(profile)}"><h2>Profile {_e(profile)}</h2>'
        f"<p>{_e(doc.get('description', ''))}</p><p>Run validity: {status}</p>"
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + f'<h3>Arms</h3>{_arm_table(doc)}<div class="plots">{"".join(figures)}</div>'
        + f"<h3>Environment fingerprint</h3>{environment(doc)}</section>"
    )


def history_section(data: ReportData) -> str:
    """Each gated figure over the baseline's stored runs, with Otava's change points marked."""
    if data.history is None:
        return ""
    if not data.history:
        body = '<p class="note">the baseline holds no run history yet (harness baseline save keeps the last N)</p>'
    else:
        figures = []
        for s in data.history:
            points = "; ".join(f"run {c.run_id}: {c.before:.4g} → {c.after:.4g} ({c.change:+.1%}, p={c.pvalue:.2g})"
                               for c in s.change_points) or "no change point"
            figures.append(f'<figure class="plot" data-plot="history" data-profile="{_e(s.profile)}">'
                           f"{plots.history(s, data.runset.run_id)}<figcaption>{_e(s.label)}: {_e(points)}"
                           "</figcaption></figure>")
        body = f'<div class="plots">{"".join(figures)}</div>'
    return (
        '<section id="history"><h2>History</h2><p class="note">Gated figures over the runs stored in the '
        "baseline (newest last, this run included). Change points: Apache Otava (E-divisive means, "
        "p ≤ 0.001), shown only when the shift reaches the plan's margin.</p>" + body + "</section>"
    )


def extras(data: ReportData) -> str:
    parts = []
    if data.bench is not None:
        rows = [
            [
                b["name"],
                f"{b['mean_s'] * 1e6:.2f}",
                f"{b['stddev_s'] * 1e6:.2f}",
                f"{b['ops']:.1f}",
                b["rounds"],
            ]
            for b in data.bench["benchmarks"]
        ]
        parts.append(
            f'<h2>Microbenchmarks</h2><p class="note">{_e(data.bench["source"])}</p>'
            + table(["benchmark", "mean µs", "stddev µs", "ops/s", "rounds"], rows, attrs=' id="bench"')
        )
    if data.schemathesis is not None or data.contract_diff is not None:
        rows = []
        if data.schemathesis is not None:
            s = data.schemathesis
            rows.append(
                [
                    "schemathesis",
                    f"{s['tests']} tests, {s['failures']} failures, {s['errors']} errors",
                    ", ".join(s["failing"]),
                ]
            )
        if data.contract_diff is not None:
            c = data.contract_diff
            rows.append(
                [
                    "contract diff",
                    f"{c['breaking']} breaking change(s)" + (f" of {c['changes']}" if c["changes"] is not None else ""),
                    c["source"],
                ]
            )
        parts.append("<h2>API contract</h2>" + table(["check", "result", "detail"], rows, attrs=' id="contract"'))
    return "".join(parts)


def render(data: ReportData) -> str:
    runset = data.runset
    reasons = "".join(f"<li>{_e(r)}</li>" for r in runset.invalid_reasons)
    counts = ""
    if data.evaluation is not None:
        counts = ", ".join(f"{n} {k}" for k, n in data.evaluation.counts().items())
    title = f"Harness report {runset.run_id}"
    profiles = ", ".join(runset.profiles)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Outcome: {badge(data.outcome)} "
        f'<span class="note">{_e(counts)}</span></p><p>Profiles: {_e(profiles)}'
        + (f"; baseline: {_e(data.baseline_source)}" if data.baseline_source else "")
        + "</p>"
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + '</header><section id="verdicts-section"><h2>Verdicts</h2>'
        '<p class="note">Gates decide on confidence intervals, not point estimates: relative gates use '
        "the CI bound on the unfavourable side; baseline gates are inconclusive when the CI straddles "
        "the allowed regression. Comparisons come from the load runner and are informational; each states "
        "the confidence its interval attains, its plan's minimum detectable effect (MDE, 80% power) and "
        "the margin within which arms count as equivalent.</p>"
        + verdicts(data)
        + "</section>"
        + "".join(profile_section(doc) for doc in runset.docs)
        + history_section(data)
        + extras(data)
        + "</body></html>\n"
    )
