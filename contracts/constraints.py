"""Value-level comparisons of one schema: format, enum and validation constraints.

Direction decides what breaks: a request constraint that gets stricter rejects calls that used
to work; a response constraint that gets looser lets the server return values clients did not
expect. The mirror-image changes are reported as non-breaking.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.context import Ctx, Direction
from contracts.model import Change

# Bounds where a smaller number is stricter, and where a larger one is.
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties", "maxContains")
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties", "minContains")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _divides(small: float, big: float) -> bool:
    ratio = big / small
    return abs(ratio - round(ratio)) < 1e-9


def _tightening(direction: Direction, keyword: str, reason: str, ctx: Ctx, *, tighter: bool) -> Change:
    if direction == "request":
        rule = "request-constraint-tightened" if tighter else "request-constraint-loosened"
    else:
        rule = "response-constraint-tightened" if tighter else "response-constraint-loosened"
    return ctx.change(rule, reason, keyword)


def _bound(old: Any, new: Any, *, upper: bool) -> bool | None:
    """True if the bound got tighter, False if looser, None if unchanged or not comparable."""
    if old == new:
        return None
    if isinstance(old, bool) or isinstance(new, bool):  # OpenAPI 3.0 boolean exclusiveMaximum/Minimum
        return bool(new) and not bool(old)
    old_n, new_n = _number(old), _number(new)
    if old_n is None and new_n is None:
        return None
    if old_n is None:
        return True  # a bound appeared
    if new_n is None:
        return False  # a bound went away
    return new_n < old_n if upper else new_n > old_n


def compare_constraints(old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx) -> list[Change]:
    changes: list[Change] = []
    for keyword in UPPER_BOUNDS + LOWER_BOUNDS:
        tighter = _bound(old.get(keyword), new.get(keyword), upper=keyword in UPPER_BOUNDS)
        if tighter is not None:
            reason = f"{keyword} changed from {_show(old.get(keyword))} to {_show(new.get(keyword))}"
            changes.append(_tightening(direction, keyword, reason, ctx, tighter=tighter))
    old_pattern, new_pattern = old.get("pattern"), new.get("pattern")
    if old_pattern != new_pattern:
        # A changed regular expression can't be proven wider, so it counts as stricter.
        reason = f"pattern changed from {_show(old_pattern)} to {_show(new_pattern)}"
        changes.append(_tightening(direction, "pattern", reason, ctx, tighter=new_pattern is not None))
    old_multiple, new_multiple = _number(old.get("multipleOf")), _number(new.get("multipleOf"))
    if old_multiple != new_multiple:
        looser = new_multiple is None or (old_multiple is not None and _divides(new_multiple, old_multiple))
        reason = f"multipleOf changed from {_show(old.get('multipleOf'))} to {_show(new.get('multipleOf'))}"
        changes.append(_tightening(direction, "multipleOf", reason, ctx, tighter=not looser))
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        reason = f"uniqueItems changed from {bool(old.get('uniqueItems'))} to {bool(new.get('uniqueItems'))}"
        changes.append(_tightening(direction, "uniqueItems", reason, ctx, tighter=bool(new.get("uniqueItems"))))
    old_closed = old.get("additionalProperties") is False
    new_closed = new.get("additionalProperties") is False
    if old_closed != new_closed:
        reason = "unknown fields are now rejected" if new_closed else "unknown fields are now allowed"
        changes.append(_tightening(direction, "additionalProperties", reason, ctx, tighter=new_closed))
    return changes


def compare_format(old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx) -> list[Change]:
    old_format, new_format = old.get("format"), new.get("format")
    if old_format == new_format:
        return []
    reason = f"format changed from {_show(old_format)} to {_show(new_format)}"
    if direction == "request" and new_format is None:
        return [ctx.change("request-format-removed", reason, "format")]
    if direction == "response" and old_format is None:
        return [ctx.change("response-format-added", reason, "format")]
    return [ctx.change("format-changed", reason, "format")]


def _enum(node: dict[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    values = node.get("enum")
    return list(values) if isinstance(values, list) else None


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def compare_enum(old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx) -> list[Change]:
    old_values, new_values = _enum(old), _enum(new)
    if old_values is None and new_values is None:
        return []
    keyword = "const" if "const" in new or ("const" in old and "enum" not in new) else "enum"
    narrowed = "request-enum-narrowed" if direction == "request" else "response-enum-narrowed"
    widened = "request-enum-widened" if direction == "request" else "response-enum-widened"
    if old_values is None:
        return [ctx.change(narrowed, f"values now restricted to {_show(new_values)}", keyword)]
    if new_values is None:
        return [ctx.change(widened, f"enum {_show(old_values)} removed: any value allowed", keyword)]
    old_keys = {_key(v): v for v in old_values}
    new_keys = {_key(v): v for v in new_values}
    removed = [v for k, v in old_keys.items() if k not in new_keys]
    added = [v for k, v in new_keys.items() if k not in old_keys]
    changes: list[Change] = []
    if removed:
        changes.append(ctx.change(narrowed, f"enum values removed: {_show(removed)}", keyword))
    if added:
        changes.append(ctx.change(widened, f"enum values added: {_show(added)}", keyword))
    return changes


def _show(value: Any) -> str:
    if value is None:
        return "none"
    return json.dumps(value, default=str)
