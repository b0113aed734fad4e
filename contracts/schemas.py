"""Direction-aware comparison of two JSON schemas (the bodies, parameters and headers of an API).

A schema used in a request is compared under request rules, one used in a response under response
rules; a component used in both is compared once per direction. ``$ref`` pairs are compared once
(memoised) and the result re-based onto every use site, which also makes cyclic schemas finite:
a pair met again while it is still being compared contributes nothing new.
"""

from __future__ import annotations

from typing import Any

from contracts import constraints, keywords, normalize, variants
from contracts.context import Ctx, Direction
from contracts.model import Change
from contracts.refs import Resolver

MAX_DEPTH = 200  # guards against non-memoisable recursion (refs with constraining siblings)
_IN_PROGRESS: list[Change] = []


class SchemaDiffer:
    def __init__(self, old: Resolver, new: Resolver) -> None:
        self.old = old
        self.new = new
        self._memo: dict[tuple[str, str, Direction], list[Change]] = {}

    def compare(self, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
        if ctx.depth > MAX_DEPTH:
            return []
        old, old_null = normalize.peel(old)
        new, new_null = normalize.peel(new)
        changes = self._nullability(old_null, new_null, direction, ctx)
        old_ref, new_ref = normalize.pure_ref(old), normalize.pure_ref(new)
        if old_ref is not None and new_ref is not None:
            return changes + self._compare_refs(old_ref, new_ref, direction, ctx)
        old, old_chain = self.old.deref(old)
        new, new_chain = self.new.deref(new)
        if old_chain or new_chain:  # one side inlined, or a ref with constraining siblings
            inner = ctx.through(new_chain or old_chain)
            return changes + self.compare(old, new, direction, inner)
        if not isinstance(old, dict) or not isinstance(new, dict):
            return changes  # `true`/`false` schemas or garbage: nothing sensible to say
        return changes + self._compare_resolved(old, new, direction, ctx)

    def _compare_refs(self, old_ref: str, new_ref: str, direction: Direction, ctx: Ctx) -> list[Change]:
        key = (old_ref, new_ref, direction)
        cached = self._memo.get(key)
        if cached is None:
            self._memo[key] = _IN_PROGRESS
            old_node, _ = self.old.deref({"$ref": old_ref})
            new_node, new_chain = self.new.deref({"$ref": new_ref})
            fresh = Ctx(component=new_chain[-1][1:], depth=ctx.depth + 1)
            cached = self.compare(old_node, new_node, direction, fresh)
            # Chains beyond the first ref (a ref to a ref) are part of the attribution.
            cached = [c.rebased("", new_chain[1:]) for c in cached]
            self._memo[key] = cached
        elif cached is _IN_PROGRESS:
            return []  # a cycle: this pair's changes are being collected further up
        return [c.rebased(ctx.pointer, (*ctx.via, new_ref)) for c in cached]

    @staticmethod
    def _nullability(old_null: bool, new_null: bool, direction: Direction, ctx: Ctx) -> list[Change]:
        if old_null == new_null:
            return []
        if direction == "request":
            rule = "request-nullable-added" if new_null else "request-nullable-removed"
        else:
            rule = "response-nullable-added" if new_null else "response-nullable-removed"
        reason = "null is now allowed" if new_null else "null is no longer allowed"
        return [ctx.change(rule, reason)]

    def _compare_resolved(
        self, old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx
    ) -> list[Change]:
        old = normalize.merge_all_of(old, self.old)
        new = normalize.merge_all_of(new, self.new)
        if variants.variants(old) or variants.variants(new):
            return self._compare_variants(old, new, direction, ctx)
        type_changes = self._compare_types(old, new, direction, ctx)
        if any(c.breaking for c in type_changes):
            return type_changes  # constraints of a different type are noise next to this
        changes = type_changes
        changes += constraints.compare_format(old, new, direction, ctx)
        changes += constraints.compare_enum(old, new, direction, ctx)
        changes += constraints.compare_constraints(old, new, direction, ctx)
        changes += self._compare_properties(old, new, direction, ctx)
        changes += keywords.compare_keywords(self, old, new, direction, ctx)
        return changes

    @staticmethod
    def _compare_types(old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx) -> list[Change]:
        old_types, new_types = normalize.types(old), normalize.types(new)
        if old_types == new_types:
            return []
        reason = f"type changed from {_show_types(old_types)} to {_show_types(new_types)}"
        if direction == "request" and normalize.covers(new_types, old_types):
            return [ctx.change("request-type-widened", reason, "type")]
        if direction == "response" and normalize.covers(old_types, new_types):
            return [ctx.change("response-type-narrowed", reason, "type")]
        return [ctx.change("type-changed", reason, "type")]

    def _compare_properties(
        self, old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx
    ) -> list[Change]:
        old_props, old_required = _properties(old, direction, self.old)
        new_props, new_required = _properties(new, direction, self.new)
        changes: list[Change] = []
        added = [name for name in new_props if name not in old_props]
        for name, schema in old_props.items():
            if name in new_props:
                continue
            renamed = [a for a in added if normalize.canonical(new_props[a]) == normalize.canonical(schema)]
            hint = f" (renamed to {renamed[0]!r}?)" if renamed else ""
            rule = f"{direction}-property-removed"
            changes.append(ctx.change(rule, f"{direction} field {name!r} was removed{hint}", "properties", name))
        for name in added:
            if direction == "response":
                changes.append(
                    ctx.change("response-property-added", f"new response field {name!r}", "properties", name)
                )
            elif name in new_required:
                reason = f"new required request field {name!r}"
                changes.append(ctx.change("request-property-added-required", reason, "properties", name))
            else:
                reason = f"new optional request field {name!r}"
                changes.append(ctx.change("request-property-added-optional", reason, "properties", name))
        for name in old_props:
            if name not in new_props:
                continue
            was, now = name in old_required, name in new_required
            if was != now:
                state = "required" if now else "optional"
                rule = f"{direction}-property-made-{state}"
                changes.append(ctx.change(rule, f"{direction} field {name!r} is now {state}", "properties", name))
            changes += self.compare(old_props[name], new_props[name], direction, ctx.child("properties", name))
        return changes

    def _compare_variants(
        self, old: dict[str, Any], new: dict[str, Any], direction: Direction, ctx: Ctx
    ) -> list[Change]:
        old_keyword, old_list = variants.variants(old) or ("", [old])
        new_keyword, new_list = variants.variants(new) or ("", [new])
        pairs, removed, added = variants.match(old_list, new_list, self.old, self.new)
        changes: list[Change] = []
        for old_index in removed:
            rule = "request-variant-removed" if direction == "request" else "response-variant-removed"
            tokens = (old_keyword, old_index) if old_keyword else ()
            changes.append(ctx.change(rule, f"alternative {_describe(old_list[old_index])} was removed", *tokens))
        for new_index in added:
            rule = "request-variant-added" if direction == "request" else "response-variant-added"
            tokens = (new_keyword, new_index) if new_keyword else ()
            reason = f"new alternative {_describe(new_list[new_index])}"
            overlap = self._overlap(new, new_list, new_index, [n for _, n in pairs]) if direction == "request" else None
            if overlap is not None:
                rule = "request-oneof-overlap"
                reason += f" may match the same payloads as {_describe(new_list[overlap])}: oneOf rejects those"
            changes.append(ctx.change(rule, reason, *tokens))
        for old_index, new_index in pairs:
            inner = ctx.child(new_keyword, new_index) if new_keyword else ctx
            changes += self.compare(old_list[old_index], new_list[new_index], direction, inner)
        return changes

    def _overlap(self, node: dict[str, Any], branches: list[Any], index: int, kept: list[int]) -> int | None:
        """The kept ``oneOf`` alternative that new alternative ``index`` may overlap, if any."""
        if "oneOf" not in node or node.get("discriminator"):
            return None  # anyOf tolerates overlap; a discriminator picks exactly one branch
        for other in kept:
            if not variants.disjoint(branches[index], branches[other], self.new):
                return other
        return None


def _properties(node: dict[str, Any], direction: Direction, resolver: Resolver) -> tuple[dict[str, Any], set[str]]:
    """Properties a client sends (request) or reads (response): readOnly/writeOnly ones drop out."""
    hidden = "readOnly" if direction == "request" else "writeOnly"
    raw = node.get("properties")
    props: dict[str, Any] = {}
    if isinstance(raw, dict):
        for name, schema in raw.items():
            resolved, _ = resolver.deref(schema)
            if not (isinstance(resolved, dict) and resolved.get(hidden) is True):
                props[name] = schema
    listed = node.get("required")
    required = {r for r in listed if isinstance(r, str) and r in props} if isinstance(listed, list) else set()
    return props, required


def _describe(node: Any) -> str:
    ref = normalize.pure_ref(node)
    if ref is not None:
        return ref
    if isinstance(node, dict) and normalize.types(node):
        return _show_types(normalize.types(node))
    return "schema"


def _show_types(kinds: frozenset[str]) -> str:
    return "|".join(sorted(kinds)) if kinds else "any"
