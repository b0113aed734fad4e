"""Response headers, judged by what a client can rely on.

A header is text on the wire. A client reading ``X-Total`` as a string keeps working when the
documentation narrows it to an integer (digits are a string), so that is not a type change; the
other way round (integer to string) can break a client that parses it. A header that stops being
``required`` may be missing from responses, which breaks a client that reads it unconditionally.
"""

from __future__ import annotations

from typing import Any

from contracts import normalize
from contracts.context import Ctx
from contracts.model import Change
from contracts.refs import Resolver
from contracts.schemas import SchemaDiffer

# Types whose values all have a text form that a "string" header already admitted.
_TEXT_FORMS = frozenset({"string", "integer", "number", "boolean"})


def compare_headers(
    old: dict[str, Any], new: dict[str, Any], ctx: Ctx, old_res: Resolver, new_res: Resolver, schemas: SchemaDiffer
) -> list[Change]:
    changes: list[Change] = []
    old_names = {name.lower(): name for name in old}
    new_names = {name.lower(): name for name in new}
    for lower, name in old_names.items():
        if lower not in new_names:
            changes.append(
                ctx.change("response-header-removed", f"response header {name} was removed", "headers", name)
            )
    for lower, name in new_names.items():
        if lower not in old_names:
            changes.append(ctx.change("response-header-added", f"new response header {name}", "headers", name))
            continue
        old_header, _ = old_res.deref(old[old_names[lower]])
        new_header, chain = new_res.deref(new[name])
        if isinstance(old_header, dict) and isinstance(new_header, dict):
            here = ctx.child("headers", name).through(chain)
            changes += _required(old_header, new_header, name, here)
            changes += _schema(
                old_header.get("schema", {}), new_header.get("schema", {}), here, old_res, new_res, schemas
            )
    return changes


def _required(old: dict[str, Any], new: dict[str, Any], name: str, ctx: Ctx) -> list[Change]:
    was, now = old.get("required") is True, new.get("required") is True
    if was == now:
        return []
    if now:
        return [ctx.change("response-header-made-required", f"response header {name} is now always sent", "required")]
    return [ctx.change("response-header-made-optional", f"response header {name} may now be absent", "required")]


def _schema(old: Any, new: Any, ctx: Ctx, old_res: Resolver, new_res: Resolver, schemas: SchemaDiffer) -> list[Change]:
    inner = ctx.child("schema")
    old_node, _ = old_res.deref(old)
    new_node, _ = new_res.deref(new)
    if isinstance(old_node, dict) and isinstance(new_node, dict):
        old_types, new_types = normalize.types(old_node), normalize.types(new_node)
        if old_types == {"string"} and new_types and new_types != old_types and new_types <= _TEXT_FORMS:
            reason = (
                f"header type documented as {'|'.join(sorted(new_types))} instead of string: "
                "still text on the wire, now with fewer possible values"
            )
            untyped_old = {k: v for k, v in old_node.items() if k != "type"}
            untyped_new = {k: v for k, v in new_node.items() if k != "type"}
            rest = schemas.compare(untyped_old, untyped_new, "response", inner)
            return [inner.change("response-header-type-narrowed", reason, "type"), *rest]
    return schemas.compare(old, new, "response", inner)
