"""Canonical views of JSON schemas, so that equivalent spellings compare equal.

FastAPI (OpenAPI 3.1) spells an optional field ``anyOf: [X, {type: "null"}]``; OpenAPI 3.0 says
``nullable: true``; JSON Schema also allows ``type: [X, "null"]``. All three become "X, nullable".
``allOf`` is merged into one object schema.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.refs import Resolver, ref_of

# Keywords that document but never constrain: edits to them are not API changes.
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "summary",
        "example",
        "examples",
        "default",
        "deprecated",
        "externalDocs",
        "xml",
        "$comment",
        "discriminator",
    }
)

NUMERIC = frozenset({"number", "integer"})


def is_annotation(key: str) -> bool:
    return key in ANNOTATIONS or key.startswith("x-")


def _is_null(branch: Any) -> bool:
    return isinstance(branch, dict) and (branch.get("type") == "null" or branch.get("const", 0) is None)


def _only_annotations(node: dict[str, Any], *, besides: str) -> bool:
    return all(is_annotation(k) for k in node if k != besides)


def peel(node: Any) -> tuple[Any, bool]:
    """Strip every spelling of "or null" off ``node``; returns the rest and whether null was allowed."""
    nullable = False
    for _ in range(16):  # each pass removes one wrapper; real documents need one or two
        if not isinstance(node, dict):
            break
        node = dict(node)
        if node.pop("nullable", False) is True:
            nullable = True
        kind = node.get("type")
        if isinstance(kind, list) and "null" in kind:
            nullable = True
            rest = [k for k in kind if k != "null"]
            if not rest:
                node.pop("type")
            else:
                node["type"] = rest[0] if len(rest) == 1 else rest
        unwrapped = False
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if not isinstance(branches, list):
                continue
            kept = [b for b in branches if not _is_null(b)]
            if len(kept) < len(branches):
                nullable = True
                node[keyword] = kept
            if len(kept) == 1 and _only_annotations(node, besides=keyword):
                node = kept[0]
                unwrapped = True
                break
        if unwrapped:
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and _only_annotations(node, besides="allOf"):
            node = all_of[0]
            continue
        break
    return node, nullable


def pure_ref(node: Any) -> str | None:
    """The ``$ref`` of a node that is nothing but a reference (plus annotations)."""
    ref = ref_of(node)
    if ref is not None and isinstance(node, dict) and _only_annotations(node, besides="$ref"):
        return ref
    return None


def merge_all_of(node: dict[str, Any], resolver: Resolver, depth: int = 0) -> dict[str, Any]:
    """Fold ``allOf`` branches into ``node``: properties united, ``required`` united.

    Properties inherited through a ``$ref``'d branch keep their own schemas (and refs), but the
    change is attributed to the use site rather than the parent component.
    """
    branches = node.get("allOf")
    if not isinstance(branches, list) or depth > 32:
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    own_properties, own_required = merged.get("properties"), merged.get("required")
    properties: dict[str, Any] = dict(own_properties) if isinstance(own_properties, dict) else {}
    required: list[str] = list(own_required) if isinstance(own_required, list) else []
    for branch in branches:
        resolved, _ = resolver.deref(branch)
        if not isinstance(resolved, dict):
            continue
        resolved = merge_all_of(resolved, resolver, depth + 1)
        for key, value in resolved.items():
            if key == "properties" and isinstance(value, dict):
                for name, schema in value.items():
                    properties.setdefault(name, schema)
            elif key == "required" and isinstance(value, list):
                required.extend(r for r in value if r not in required)
            else:
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def types(node: dict[str, Any]) -> frozenset[str]:
    """The JSON types a schema allows, without ``null``; empty means "not constrained"."""
    kind = node.get("type")
    if isinstance(kind, str):
        return frozenset({kind}) - {"null"}
    if isinstance(kind, list):
        return frozenset(k for k in kind if isinstance(k, str)) - {"null"}
    return frozenset()


def covers(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    """Every value of a type in ``narrow`` is allowed by ``wide`` (empty ``wide`` allows all)."""
    if not wide:
        return True
    if not narrow:
        return False
    expanded = wide | ({"integer"} if "number" in wide else set())
    return narrow <= expanded


def canonical(node: Any) -> str:
    """A comparable fingerprint of a schema, ignoring annotations."""
    return json.dumps(_strip(node), sort_keys=True, default=str)


def _strip(node: Any, *, names: bool = False) -> Any:
    if isinstance(node, dict):
        # Under "properties" the keys are field names (a field may well be called "description").
        return {
            k: _strip(v, names=k in ("properties", "patternProperties") and not names)
            for k, v in node.items()
            if names or not is_annotation(k)
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node
