"""Accepting known breaking changes: an allowlist of (rule id, pointer glob, reason) entries.

TOML::

    [[accept]]
    rule = "response-property-removed"
    pointer = "/paths/~1api~1v1~1items/get/responses/200/*/properties/legacy"
    reason = "legacy was deprecated in 1.4; removal announced to API clients on 2025-01-10"
    expires = 2025-06-30   # optional: after this date the entry no longer applies

Severities (policies as configuration): a ``[severity]`` table maps rule ids to ``breaking``,
``warning`` or ``info``, e.g. ``"unstable-operation-changed" = "breaking"`` turns the alpha/beta
exemption off, ``"request-constraint-undecidable" = "breaking"`` makes unprovable regex changes fail.

YAML: the same keys under ``accept:`` as a list (and ``severity:`` as a mapping).
``pointer`` is an ``fnmatch`` glob (``*`` also matches ``/``) tried against the use-site pointer
and against the pointer inside the component, so ``/components/schemas/Item/properties/legacy``
accepts the change at every use of ``Item``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from contracts import rules
from contracts.model import Change, DiffReport
from contracts.rules import LEVELS, Level
from harness.exitcodes import USAGE, HarnessError


@dataclass(frozen=True, slots=True)
class Config:
    entries: list[Entry]
    severities: dict[str, Level]


@dataclass(frozen=True, slots=True)
class Entry:
    rule: str
    pointer: str
    reason: str
    expires: dt.date | None = None
    label: str = "entry"

    def matches(self, change: Change) -> bool:
        if change.rule != self.rule:
            return False
        candidates = [change.pointer] + ([change.component_pointer] if change.component_pointer else [])
        return any(fnmatchcase(candidate, self.pointer) for candidate in candidates)


def load_allowlist(path: str | Path) -> list[Entry]:
    return load_config(path).entries


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"allowlist {path}: cannot read: {exc}", USAGE) from exc
    return parse_config(text, str(path), yaml_format=path.suffix.lower() in (".yaml", ".yml"))


def parse_allowlist(text: str, label: str, *, yaml_format: bool) -> list[Entry]:
    return parse_config(text, label, yaml_format=yaml_format).entries


def parse_config(text: str, label: str, *, yaml_format: bool) -> Config:
    try:
        data: Any = yaml.safe_load(text) if yaml_format else tomllib.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"allowlist {label}: cannot parse: {exc}", USAGE) from exc
    if data is None:
        return Config([], {})
    if not isinstance(data, dict) or not isinstance(data.get("accept", []), list):
        raise HarnessError(f"allowlist {label}: expected a list under 'accept'", USAGE)
    unknown = set(data) - {"accept", "severity"}
    if unknown:
        raise HarnessError(f"allowlist {label}: unknown top-level keys {sorted(unknown)}", USAGE)
    entries = [_entry(raw, f"{label} entry {n}") for n, raw in enumerate(data.get("accept", []), start=1)]
    return Config(entries, _severities(data.get("severity", {}), label))


def _severities(raw: Any, label: str) -> dict[str, Level]:
    if not isinstance(raw, dict):
        raise HarnessError(f"allowlist {label}: 'severity' must map rule ids to {'/'.join(LEVELS)}", USAGE)
    levels: dict[str, Level] = {}
    for rule, level in raw.items():
        if rule not in rules.RULES:
            raise HarnessError(f"allowlist {label}: severity for unknown rule {rule!r}", USAGE)
        if level not in LEVELS:
            raise HarnessError(f"allowlist {label}: severity of {rule} must be one of {LEVELS}, got {level!r}", USAGE)
        levels[rule] = level
    return levels


def _entry(raw: Any, label: str) -> Entry:
    if not isinstance(raw, dict):
        raise HarnessError(f"{label}: expected a table/mapping", USAGE)
    unknown = set(raw) - {"rule", "pointer", "reason", "expires"}
    if unknown:
        raise HarnessError(f"{label}: unknown keys {sorted(unknown)}", USAGE)
    rule, where, reason = raw.get("rule"), raw.get("pointer"), raw.get("reason")
    if not isinstance(rule, str) or rule not in rules.RULES:
        raise HarnessError(f"{label}: unknown rule {rule!r} (see docs/contracts.md for the rule ids)", USAGE)
    if not isinstance(where, str) or not where:
        raise HarnessError(f"{label}: 'pointer' (a JSON pointer or glob) is required", USAGE)
    if not isinstance(reason, str) or not reason.strip():
        raise HarnessError(f"{label}: 'reason' is required: say why this break is acceptable", USAGE)
    return Entry(rule, where.removeprefix("#"), reason.strip(), _date(raw.get("expires"), label), label)


def _date(value: Any, label: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise HarnessError(f"{label}: 'expires' must be a date (YYYY-MM-DD), got {value!r}", USAGE)


def apply_allowlist(report: DiffReport, entries: list[Entry], today: dt.date | None = None) -> DiffReport:
    """Mark breaking changes and warnings matched by a live entry as accepted; note expired and unused entries."""
    today = today or dt.date.today()
    live = [e for e in entries if e.expires is None or e.expires >= today]
    notes = list(report.notes)
    notes += [f"allowlist {e.label} ({e.rule} {e.pointer}) expired on {e.expires}" for e in entries if e not in live]
    used: set[int] = set()
    changes: list[Change] = []
    for change in report.changes:
        entry = next((e for e in live if change.level != "info" and e.matches(change)), None)
        if entry is None:
            changes.append(change)
        else:
            used.add(id(entry))
            changes.append(change.accept(entry.reason))
    notes += [f"allowlist {e.label} ({e.rule} {e.pointer}) matched nothing" for e in live if id(e) not in used]
    return DiffReport(changes=changes, notes=notes, fail_on=report.fail_on)
