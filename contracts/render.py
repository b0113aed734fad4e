"""Reports for people and machines: plain text (terminals, CI logs), Markdown (a PR comment), JSON."""

from __future__ import annotations

import json
import re

from contracts import pointer
from contracts.model import Change, DiffReport

FORMATS = ("text", "markdown", "json", "junit")
_MARKS = {"breaking": "BREAKING", "warning": "WARNING", "accepted": "accepted", "info": "info"}
_RANK = {"breaking": 0, "warning": 1, "accepted": 2, "info": 3}


def render(report: DiffReport, fmt: str, title: str = "OpenAPI changes") -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report, title)
    if fmt == "junit":
        from contracts.junit import render_junit  # a separate concept: CI test-report views

        return render_junit(report, title)
    return render_text(report, title)


def operation_of(change: Change) -> str:
    """``GET /items`` for a pointer under ``/paths/~1items/get``; the path alone, or ``-``."""
    match = re.match(r"^/paths/([^/]+)(?:/([a-z]+))?", change.pointer)
    if not match:
        return "-"
    path = pointer.unescape(match.group(1))
    method = match.group(2)
    return f"{method.upper()} {path}" if method and method != "parameters" else path


def _attribution(change: Change) -> str:
    if not change.via:
        return ""
    where = f" at {change.component_pointer}" if change.component_pointer else ""
    return f"via {' -> '.join(change.via)}{where}"


def _ordered(report: DiffReport) -> list[Change]:
    return sorted(report.changes, key=lambda c: _RANK[c.status])  # stable: document order within a rank


def headline(report: DiffReport) -> str:
    s = report.summary()
    return f"{s['breaking']} breaking, {s['warning']} warning, {s['accepted']} accepted, {s['info']} info"


def render_text(report: DiffReport, title: str = "OpenAPI changes") -> str:
    lines = [f"{title}: {headline(report)}"]
    if not report.changes:
        lines.append("no API changes")
    for change in _ordered(report):
        lines.append("")
        lines.append(f"{_MARKS[change.status]:<9} {change.rule}  [{operation_of(change)}]")
        lines.append(f"  {change.reason}")
        lines.append(f"  at  {change.pointer}")
        if change.policy:
            lines.append(f"  severity set by policy {change.policy}")
        if change.via:
            lines.append(f"  {_attribution(change)}")
        if change.accepted_reason:
            lines.append(f"  accepted: {change.accepted_reason}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DiffReport, title: str = "OpenAPI changes") -> str:
    if report.failed:
        verdict = "breaking changes found" if report.breaking else "warnings found (--fail-on warning)"
    else:
        verdict = "no unaccepted breaking changes"
    lines = [f"### {title}: {verdict}", "", f"**{headline(report)}**", ""]
    if report.changes:
        lines += ["| Severity | Rule | Operation | Change | Pointer |", "| --- | --- | --- | --- | --- |"]
        for change in _ordered(report):
            status = f"**{change.status}**" if change.fails(report.fail_on) else change.status
            what = change.reason
            if change.via:
                what += f" ({_attribution(change)})"
            if change.accepted_reason:
                what += f"; accepted: {change.accepted_reason}"
            if change.policy:
                what += f"; severity by policy `{change.policy}`"
            lines.append(
                f"| {status} | `{change.rule}` | {_cell(operation_of(change))} | {_cell(what)} "
                f"| `{_cell(change.pointer)}` |"
            )
    else:
        lines.append("No API changes.")
    if report.notes:
        lines.append("")
        lines += [f"- note: {_cell(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_json(report: DiffReport) -> str:
    payload = {
        "failed": report.failed,
        "fail_on": report.fail_on,
        "summary": report.summary(),
        "changes": [change.to_json() | {"operation": operation_of(change)} for change in report.changes],
        "notes": report.notes,
    }
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"
