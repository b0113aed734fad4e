"""``oneOf``/``anyOf`` alternatives: pairing them across versions, and whether two can overlap.

``oneOf`` rejects a payload that matches more than one alternative, so a new alternative that can
match what an existing one matches turns valid requests invalid. Overlap is decided conservatively:
two alternatives are disjoint only when something proves it (disjoint types or values, a required
field the other closes out, differing ``const`` on a field both require); otherwise they may overlap.
"""

from __future__ import annotations

from typing import Any

from contracts import normalize
from contracts.refs import Resolver


def variants(node: dict[str, Any]) -> tuple[str, list[Any]] | None:
    for keyword in ("oneOf", "anyOf"):
        branches = node.get(keyword)
        if isinstance(branches, list) and branches:
            return keyword, branches
    return None


def _signature(node: Any, resolver: Resolver) -> str:
    """How variants are matched across versions when not identical: by ``$ref``, else by type."""
    ref = normalize.pure_ref(node)
    if ref is not None:
        return "ref:" + ref
    resolved, _ = resolver.deref(node)
    if not isinstance(resolved, dict):
        return "other:" + normalize.canonical(resolved)
    return "type:" + ",".join(sorted(normalize.types(resolved)))


def _fingerprint(node: Any, _resolver: Resolver) -> str:
    return normalize.canonical(node)


def match(
    old_list: list[Any], new_list: list[Any], old_res: Resolver, new_res: Resolver
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair old and new alternatives: identical ones first, then same ref or same type, in order."""
    pairs: list[tuple[int, int]] = []
    free_old = list(range(len(old_list)))
    free_new = list(range(len(new_list)))
    for keyer in (_fingerprint, _signature):
        for old_index in list(free_old):
            key = keyer(old_list[old_index], old_res)
            for new_index in free_new:
                if keyer(new_list[new_index], new_res) == key:
                    pairs.append((old_index, new_index))
                    free_old.remove(old_index)
                    free_new.remove(new_index)
                    break
    return pairs, free_old, free_new


def _flat(node: Any, resolver: Resolver) -> tuple[dict[str, Any] | None, bool]:
    node, nullable = normalize.peel(node)
    node, _ = resolver.deref(node)
    if not isinstance(node, dict):
        return None, nullable
    return normalize.merge_all_of(node, resolver), nullable


def _widen(kinds: frozenset[str]) -> frozenset[str]:
    return kinds | {"integer"} if "number" in kinds else kinds


def _values(node: dict[str, Any]) -> list[str] | None:
    if "const" in node:
        return [normalize.canonical(node["const"])]
    if isinstance(node.get("enum"), list):
        return [normalize.canonical(v) for v in node["enum"]]
    return None


def disjoint(a: Any, b: Any, resolver: Resolver, depth: int = 0) -> bool:
    """True only when no value can match both schemas."""
    first, first_null = _flat(a, resolver)
    second, second_null = _flat(b, resolver)
    if first is None or second is None or depth > 8:
        return False
    if first_null and second_null:
        return False
    types_a, types_b = normalize.types(first), normalize.types(second)
    if types_a and types_b and not (_widen(types_a) & _widen(types_b)):
        return True
    values_a, values_b = _values(first), _values(second)
    if values_a is not None and values_b is not None and not set(values_a) & set(values_b):
        return True
    return _objects_disjoint(first, second, resolver, depth) or _objects_disjoint(second, first, resolver, depth)


def _objects_disjoint(a: dict[str, Any], b: dict[str, Any], resolver: Resolver, depth: int) -> bool:
    props_a: dict[str, Any] = a["properties"] if isinstance(a.get("properties"), dict) else {}
    props_b: dict[str, Any] = b["properties"] if isinstance(b.get("properties"), dict) else {}
    required_a = set(a.get("required") or [])
    required_b = set(b.get("required") or [])
    # b requires a field that a does not allow at all.
    if a.get("additionalProperties") is False and any(name not in props_a for name in required_b):
        return True
    # Both require a field whose values can't coincide (a discriminator by const/enum).
    return any(
        disjoint(props_a[name], props_b[name], resolver, depth + 1)
        for name in required_a & required_b
        if name in props_a and name in props_b
    )
