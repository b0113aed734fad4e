"""JSON Schema 2020-12 applicators and keywords that change what a payload accepts.

Each keyword is compared by the set of values it lets through. An absent applicator behaves like
the ``true`` schema (anything goes), ``false`` like nothing, so adding ``unevaluatedProperties:
false`` narrows and removing ``prefixItems`` widens. Subschemas are compared recursively in the
same direction, except under ``not``, which inverts it: a ``not`` schema that comes to match more
values makes the enclosing schema accept fewer.

Where the two sides can't be ordered (``if`` replaced by an unrelated condition), the change is
reported as ``*-constraint-undecidable``; its severity is configuration, not a guess.
"""

from __future__ import annotations

from typing import Any, Protocol

from contracts import constraints, normalize
from contracts.context import Ctx, Direction
from contracts.model import Change

# Applicators holding one subschema, where "absent" means "no constraint".
SINGLE = (
    "items",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
)
# Applicators holding a map of subschemas: a new key constrains more.
MAPS = ("dependentSchemas", "patternProperties")
FORMAT_LIKE = ("contentEncoding", "contentMediaType")
# Warnings that are still provably a narrowing (request) or widening (response): under `not`
# they flip into a definite effect, like the breaking rules do.
_DIRECTED_WARNINGS = frozenset({"response-enum-widened", "request-limit-added", "response-extensible-enum-widened"})


class Comparer(Protocol):
    def compare(self, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]: ...


def flip(direction: Direction) -> Direction:
    return "response" if direction == "request" else "request"


def undecidable(direction: Direction, reason: str, ctx: Ctx, *tokens: str | int) -> Change:
    return ctx.change(f"{direction}-constraint-undecidable", reason, *tokens)


def _kind(node: Any) -> str:
    """``any`` (absent, ``true``, ``{}``), ``none`` (``false``) or ``schema``."""
    if node is None or node is True:
        return "any"
    if node is False:
        return "none"
    if isinstance(node, dict) and not {k for k in node if not normalize.is_annotation(k)}:
        return "any"
    return "schema"


def compare_keywords(
    differ: Comparer, old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx
) -> list[Change]:
    changes: list[Change] = []
    for keyword in SINGLE:
        changes += _single(differ, keyword, old.get(keyword), new.get(keyword), direction, ctx)
    for keyword in MAPS:
        changes += _map(differ, keyword, old.get(keyword), new.get(keyword), direction, ctx)
    changes += _prefix_items(differ, old.get("prefixItems"), new.get("prefixItems"), direction, ctx)
    changes += _dependent_required(old.get("dependentRequired"), new.get("dependentRequired"), direction, ctx)
    changes += _conditional(differ, old, new, direction, ctx)
    changes += compare_not(differ, old.get("not"), new.get("not"), direction, ctx)
    for keyword in FORMAT_LIKE:
        changes += constraints.compare_format(old, new, direction, ctx, keyword=keyword)
    changes += _default(old, new, direction, ctx)
    return changes


def _single(differ: Comparer, keyword: str, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    was, now = _kind(old), _kind(new)
    if was == now == "schema":
        return differ.compare(old, new, direction, ctx.child(keyword))
    if was == now:
        return []
    order = {"none": 0, "schema": 1, "any": 2}  # how much each lets through
    tighter = order[now] < order[was]
    reason = f"{keyword} changed from {_show_kind(was)} to {_show_kind(now)}"
    if keyword == "additionalProperties" and "none" in (was, now):
        reason = "unknown fields are now rejected" if now == "none" else "unknown fields are now allowed"
    return [constraints.tightening(direction, keyword, reason, ctx, tighter=tighter)]


def _show_kind(kind: str) -> str:
    return {"any": "unconstrained", "none": "false", "schema": "a schema"}[kind]


def _map(differ: Comparer, keyword: str, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    old_map = old if isinstance(old, dict) else {}
    new_map = new if isinstance(new, dict) else {}
    changes: list[Change] = []
    for key, schema in old_map.items():
        if key not in new_map and _kind(schema) != "any":
            reason = f"{keyword} entry {key!r} was removed"
            changes.append(
                constraints.tightening(direction, keyword, reason, ctx.child(keyword), tighter=False, at=key)
            )
    for key, schema in new_map.items():
        if key in old_map:
            changes += _single(differ, key, old_map[key], schema, direction, ctx.child(keyword))
        elif _kind(schema) != "any":
            reason = f"new {keyword} entry {key!r}"
            changes.append(constraints.tightening(direction, keyword, reason, ctx.child(keyword), tighter=True, at=key))
    return changes


def _prefix_items(differ: Comparer, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    old_list = old if isinstance(old, list) else []
    new_list = new if isinstance(new, list) else []
    here = ctx.child("prefixItems")
    changes: list[Change] = []
    for index in range(min(len(old_list), len(new_list))):
        changes += _single(differ, str(index), old_list[index], new_list[index], direction, here)
    if len(new_list) != len(old_list):
        longer = len(new_list) > len(old_list)
        reason = f"prefixItems went from {len(old_list)} to {len(new_list)} positions"
        at = min(len(old_list), len(new_list))
        changes.append(constraints.tightening(direction, "prefixItems", reason, here, tighter=longer, at=at))
    return changes


def _dependent_required(old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    old_map = old if isinstance(old, dict) else {}
    new_map = new if isinstance(new, dict) else {}
    here = ctx.child("dependentRequired")
    changes: list[Change] = []
    for key in dict.fromkeys([*old_map, *new_map]):
        before = set(old_map.get(key) or [])
        after = set(new_map.get(key) or [])
        if after - before:
            reason = f"when {key!r} is present, {sorted(after - before)} are now required too"
            changes.append(constraints.tightening(direction, "dependentRequired", reason, here, tighter=True, at=key))
        if before - after:
            reason = f"when {key!r} is present, {sorted(before - after)} are no longer required"
            changes.append(constraints.tightening(direction, "dependentRequired", reason, here, tighter=False, at=key))
    return changes


def _conditional(
    differ: Comparer, old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx
) -> list[Change]:
    """``if``/``then``/``else``: with the same condition, the branches compare like any subschema."""
    old_if, new_if = old.get("if"), new.get("if")
    old_has = "if" in old and ("then" in old or "else" in old)
    new_has = "if" in new and ("then" in new or "else" in new)
    if not old_has and not new_has:
        return []
    if old_has != new_has:
        reason = "a conditional (if/then/else) was " + ("added" if new_has else "removed")
        return [constraints.tightening(direction, "if", reason, ctx, tighter=new_has)]
    if normalize.canonical(old_if) != normalize.canonical(new_if):
        return [
            undecidable(direction, "the if condition changed: the then/else branches now apply elsewhere", ctx, "if")
        ]
    changes: list[Change] = []
    for branch in ("then", "else"):
        changes += _single(differ, branch, old.get(branch), new.get(branch), direction, ctx)
    return changes


def compare_not(differ: Comparer, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
    """Compare the ``not`` subschemas in the opposite direction and restate the effect outside."""
    narrowed = "request-narrowed-by-not" if direction == "request" else "response-narrowed-by-not"
    widened = "request-widened-by-not" if direction == "request" else "response-widened-by-not"
    was, now = _kind(old), _kind(new)
    if was == "any" and now == "any" and old is None and new is None:
        return []
    if (old is None) != (new is None):
        # Adding `not` excludes values (narrows); removing it lets them back in.
        rule = narrowed if new is not None else widened
        return [ctx.change(rule, "a `not` exclusion was " + ("added" if new is not None else "removed"), "not")]
    if was != "schema" or now != "schema":
        if was == now:
            return []
        return [ctx.change(widened if now == "any" else narrowed, f"`not` changed from {was} to {now}", "not")]
    inner = differ.compare(old, new, flip(direction), ctx.child("not"))
    restated: list[Change] = []
    for change in inner:
        if change.rule.endswith("-default-changed"):
            continue  # an annotation: meaningless under `not`
        if change.level == "warning" and change.rule not in _DIRECTED_WARNINGS:
            rule = f"{direction}-constraint-undecidable"
        else:
            # A change that breaks in the flipped direction excludes more (request) or fewer (response).
            outside_breaks = change.level != "info"
            if direction == "request":
                rule = narrowed if outside_breaks else widened
            else:
                rule = widened if outside_breaks else narrowed
        restated.append(
            Change(rule, change.pointer, f"inside `not`: {change.reason}", change.via, change.component_pointer)
        )
    return restated


def _default(old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx) -> list[Change]:
    if "default" not in old and "default" not in new:
        return []
    before, after = old.get("default"), new.get("default")
    if "default" in old and "default" in new and normalize.canonical(before) == normalize.canonical(after):
        return []
    reason = (
        f"default changed from {constraints.show(before) if 'default' in old else 'none'} "
        f"to {constraints.show(after) if 'default' in new else 'none'}"
    )
    return [ctx.change(f"{direction}-default-changed", reason, "default")]
