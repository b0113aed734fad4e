"""Policies as configuration: deprecation with a sunset date, stability levels, severity overrides.

- A removed operation that was ``deprecated: true`` with an ``x-sunset`` date (RFC 3339 full-date)
  in the past is ``operation-removed-after-sunset`` (info); before that date it is
  ``operation-removed-before-sunset`` (breaking).
- An operation whose ``x-stability-level`` was ``draft``, ``alpha`` or ``beta`` may break: its
  breaking changes and warnings take the severity of ``unstable-operation-changed`` (info unless
  configured) and name that policy. Lowering the level (``stable`` to ``beta``) is itself breaking.
- Any rule's severity can be set in the allowlist file's ``[severity]`` table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from contracts import pointer
from contracts.context import Ctx
from contracts.model import Change
from contracts.rules import Level

STABILITY = {"draft": 0, "alpha": 1, "beta": 2, "stable": 3}
UNSTABLE = frozenset({"draft", "alpha", "beta"})
UNSTABLE_POLICY = "unstable-operation-changed"


@dataclass(frozen=True, slots=True)
class Policy:
    today: dt.date = field(default_factory=dt.date.today)
    severities: dict[str, Level] = field(default_factory=dict)

    def level(self, rule: str, default: Level) -> Level:
        return self.severities.get(rule, default)


def sunset(operation: dict[str, Any]) -> dt.date | None:
    raw = operation.get("x-sunset")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            return None
    return None


def removal(operation: dict[str, Any], today: dt.date) -> tuple[str, str]:
    """The rule for removing ``operation``, and what to add to the reason."""
    if operation.get("deprecated") is not True:
        return "operation-removed", ""
    date = sunset(operation)
    if date is None:
        return "operation-removed", " (deprecated, but without a valid x-sunset date)"
    if date <= today:
        return "operation-removed-after-sunset", f" (deprecated, sunset {date.isoformat()})"
    return "operation-removed-before-sunset", f" (deprecated, but its sunset {date.isoformat()} is still ahead)"


def lifecycle(old_op: dict[str, Any], new_op: dict[str, Any], ctx: Ctx) -> list[Change]:
    """Deprecation and stability-level changes of one operation."""
    changes: list[Change] = []
    if old_op.get("deprecated") is not True and new_op.get("deprecated") is True:
        when = sunset(new_op)
        reason = "the operation is now deprecated" + (f", sunset {when.isoformat()}" if when else "")
        changes.append(ctx.change("operation-deprecated", reason, "deprecated"))
    before, after = old_op.get("x-stability-level"), new_op.get("x-stability-level")
    if before in STABILITY and after in STABILITY and STABILITY[after] < STABILITY[before]:
        reason = f"x-stability-level went from {before} to {after}"
        changes.append(ctx.change("stability-level-decreased", reason, "x-stability-level"))
    return changes


def _operation(document: dict[str, Any], where: str) -> dict[str, Any] | None:
    try:
        tokens = pointer.split(where)
    except ValueError:
        return None
    if len(tokens) < 3 or tokens[0] not in ("paths", "webhooks"):
        return None
    section = document.get(tokens[0])
    item = section.get(tokens[1]) if isinstance(section, dict) else None
    operation = item.get(tokens[2]) if isinstance(item, dict) else None
    return operation if isinstance(operation, dict) else None


def apply(changes: list[Change], old: dict[str, Any], new: dict[str, Any], policy: Policy) -> list[Change]:
    """Configured severities first, then the stability exemption for alpha/beta operations."""
    result: list[Change] = []
    for change in changes:
        if change.rule in policy.severities:
            change = change.with_severity(policy.severities[change.rule])
        if change.level != "info":
            # The level promised to clients is the old one; a new operation has only its own.
            operation = _operation(old, change.pointer) or _operation(new, change.pointer)
            if operation is not None and operation.get("x-stability-level") in UNSTABLE:
                change = change.with_severity(policy.level(UNSTABLE_POLICY, "info"), UNSTABLE_POLICY)
        result.append(change)
    return result
