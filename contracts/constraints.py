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


def tightening(
    direction: Direction, keyword: str, reason: str, ctx: Ctx, *, tighter: bool, at: str | int | None = None
) -> Change:
    """A constraint change at ``ctx/keyword`` (or ``ctx/at`` when the spot is not the keyword itself)."""
    if direction == "request":
        rule = "request-constraint-tightened" if tighter else "request-constraint-loosened"
    else:
        rule = "response-constraint-tightened" if tighter else "response-constraint-loosened"
    return ctx.change(rule, reason, keyword if at is None else at)


# Patterns that match every string: changing to or from one of these is a plain add or remove.
_TRIVIAL_PATTERNS = frozenset({"", ".*", "^.*$", "^.*", ".*$", "[\\s\\S]*"})


def _trivial(pattern: Any) -> bool:
    return pattern is None or (isinstance(pattern, str) and pattern in _TRIVIAL_PATTERNS)


def _new_limit(old: dict[str, Any], new: dict[str, Any], keyword: str) -> bool:
    """An upper bound where the value had none at all (``maximum`` and ``exclusiveMaximum`` are one family)."""
    family = ("maximum", "exclusiveMaximum") if keyword in ("maximum", "exclusiveMaximum") else (keyword,)
    return all(old.get(k) is None for k in family) and _number(new.get(keyword)) is not None


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
            reason = f"{keyword} changed from {show(old.get(keyword))} to {show(new.get(keyword))}"
            if direction == "request" and keyword in UPPER_BOUNDS and _new_limit(old, new, keyword):
                # Potentially breaking: whether clients send longer/larger values is unknown.
                changes.append(ctx.change("request-limit-added", reason, keyword))
            else:
                changes.append(tightening(direction, keyword, reason, ctx, tighter=tighter))
    changes += _compare_pattern(old.get("pattern"), new.get("pattern"), direction, ctx)
    old_multiple, new_multiple = _number(old.get("multipleOf")), _number(new.get("multipleOf"))
    if old_multiple != new_multiple:
        looser = new_multiple is None or (old_multiple is not None and _divides(new_multiple, old_multiple))
        reason = f"multipleOf changed from {show(old.get('multipleOf'))} to {show(new.get('multipleOf'))}"
        changes.append(tightening(direction, "multipleOf", reason, ctx, tighter=not looser))
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        reason = f"uniqueItems changed from {bool(old.get('uniqueItems'))} to {bool(new.get('uniqueItems'))}"
        changes.append(tightening(direction, "uniqueItems", reason, ctx, tighter=bool(new.get("uniqueItems"))))
    return changes


def _compare_pattern(old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    """Removing a pattern (or making it match everything) loosens, adding one tightens; two real,
    different regular expressions can't be ordered without deciding regex inclusion, so that is
    reported as undecidable and its severity left to configuration."""
    if old == new or (_trivial(old) and _trivial(new)):
        return []
    reason = f"pattern changed from {show(old)} to {show(new)}"
    if _trivial(old) or _trivial(new):
        return [tightening(direction, "pattern", reason, ctx, tighter=_trivial(old))]
    return [ctx.change(f"{direction}-constraint-undecidable", reason, "pattern")]


def compare_format(
    old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx, *, keyword: str = "format"
) -> list[Change]:
    """``format``, and the string-encoding keywords ``contentEncoding``/``contentMediaType`` alike."""
    old_format, new_format = old.get(keyword), new.get(keyword)
    if old_format == new_format:
        return []
    reason = f"{keyword} changed from {show(old_format)} to {show(new_format)}"
    if direction == "request" and new_format is None:
        return [ctx.change("request-format-removed", reason, keyword)]
    if direction == "response" and old_format is None:
        return [ctx.change("response-format-added", reason, keyword)]
    return [ctx.change("format-changed", reason, keyword)]


def _enum(node: dict[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    values = node.get("enum")
    if not isinstance(values, list):
        values = node.get("x-extensible-enum")  # Zalando style: the documented values, open-ended
    return list(values) if isinstance(values, list) else None


def _extensible(node: dict[str, Any]) -> bool:
    """``x-extensible-enum: [...]`` or ``enum`` plus ``x-extensible-enum: true``: clients must expect new values."""
    marker = node.get("x-extensible-enum")
    return marker is True or isinstance(marker, list)


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
        return [ctx.change(narrowed, f"values now restricted to {show(new_values)}", keyword)]
    if new_values is None:
        return [ctx.change(widened, f"enum {show(old_values)} removed: any value allowed", keyword)]
    old_keys = {_key(v): v for v in old_values}
    new_keys = {_key(v): v for v in new_values}
    removed = [v for k, v in old_keys.items() if k not in new_keys]
    added = [v for k, v in new_keys.items() if k not in old_keys]
    changes: list[Change] = []
    if removed:
        changes.append(ctx.change(narrowed, f"enum values removed: {show(removed)}", keyword))
    if added:
        if direction == "response" and _extensible(old) and _extensible(new):
            widened = "response-extensible-enum-widened"
            keyword = "enum" if "enum" in new else "x-extensible-enum"
        changes.append(ctx.change(widened, f"enum values added: {show(added)}", keyword))
    return changes


def show(value: Any) -> str:
    if value is None:
        return "none"
    return json.dumps(value, default=str)
