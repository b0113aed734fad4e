"""Compare two OpenAPI 3.x documents: paths, operations, parameters, bodies, responses, security,
and (through ``webhooks``) webhooks; ``policies`` then sets each change's severity.

Schemas are handed to ``schemas.SchemaDiffer`` with the direction they travel in. Paths are matched
by their template shape, so renaming ``{id}`` to ``{item_id}`` is not a removed path, and path
parameters are matched by position for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts import headers, normalize, pointer, policies, security
from contracts.context import METHODS, Ctx, Direction
from contracts.model import Change, DiffReport
from contracts.policies import Policy
from contracts.refs import Resolver
from contracts.schemas import SchemaDiffer
from contracts.webhooks import WebhookDiffer

_TEMPLATE = re.compile(r"\{([^}/]+)\}")
# Per OpenAPI, these header parameters are described by other means and "SHALL be ignored".
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


def diff_documents(old: dict[str, Any], new: dict[str, Any], policy: Policy | None = None) -> DiffReport:
    """Every classified difference from ``old`` to ``new``, with severities set by ``policy``."""
    return _DocumentDiffer(old, new, policy or Policy()).run()


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    location: str
    node: dict[str, Any]
    ctx: Ctx  # at the parameter's own declaration, through its $ref if any

    @property
    def required(self) -> bool:
        return self.location == "path" or self.node.get("required") is True

    @property
    def label(self) -> str:
        return f"{self.location} parameter {self.name!r}"


class _DocumentDiffer:
    def __init__(self, old: dict[str, Any], new: dict[str, Any], policy: Policy) -> None:
        self.old_doc, self.new_doc = old, new
        self.policy = policy
        self.old = Resolver(old, "old document")
        self.new = Resolver(new, "new document")
        self.schemas = SchemaDiffer(self.old, self.new)
        self.notes: list[str] = []

    def run(self) -> DiffReport:
        changes: list[Change] = []
        old_paths = _by_shape(_mapping(self.old_doc.get("paths")))
        new_paths = _by_shape(_mapping(self.new_doc.get("paths")))
        for shape, old_path in old_paths.items():
            if shape not in new_paths:
                changes += self._removed_path(old_path)
            else:
                changes += self._compare_path(old_path, new_paths[shape])
        for shape, new_path in new_paths.items():
            if shape not in old_paths:
                changes.append(Change("path-added", pointer.join("/paths", new_path), f"new path {new_path}"))
        changes += WebhookDiffer(self.old, self.new, self.schemas).run()
        changes = policies.apply(_dedupe(changes), self.old_doc, self.new_doc, self.policy)
        return DiffReport(changes=changes, notes=self.notes)

    def _removed_path(self, old_path: str) -> list[Change]:
        """One ``path-removed``, unless every operation on it had reached its sunset."""
        item = _mapping(self.old.deref(self.old_doc["paths"][old_path])[0])
        operations = {m: item[m] for m in METHODS if isinstance(item.get(m), dict)}
        removals = {m: policies.removal(o, self.policy.today) for m, o in operations.items()}
        if operations and all(rule == "operation-removed-after-sunset" for rule, _ in removals.values()):
            return [
                Change(rule, pointer.join("/paths", old_path, m), f"operation {m.upper()} {old_path} was removed{why}")
                for m, (rule, why) in removals.items()
            ]
        methods = ", ".join(m.upper() for m in operations)
        reason = f"path {old_path} was removed ({methods or 'no operations'})"
        return [Change("path-removed", pointer.join("/paths", old_path), reason)]

    def _compare_path(self, old_path: str, new_path: str) -> list[Change]:
        old_item = _mapping(self.old.deref(self.old_doc["paths"][old_path])[0])
        new_item = _mapping(self.new.deref(self.new_doc["paths"][new_path])[0])
        changes: list[Change] = []
        for method in METHODS:
            in_old = isinstance(old_item.get(method), dict)
            in_new = isinstance(new_item.get(method), dict)
            where = pointer.join("/paths", new_path if in_new else old_path, method)
            name = f"{method.upper()} {new_path if in_new else old_path}"
            if in_old and not in_new:
                rule, why = policies.removal(old_item[method], self.policy.today)
                changes.append(Change(rule, where, f"operation {name} was removed{why}"))
            elif in_new and not in_old:
                changes.append(Change("operation-added", where, f"new operation {name}"))
            elif in_old and in_new:
                changes += self._compare_operation(old_path, new_path, method, old_item, new_item)
        return changes

    def _compare_operation(
        self, old_path: str, new_path: str, method: str, old_item: dict[str, Any], new_item: dict[str, Any]
    ) -> list[Change]:
        old_op, new_op = old_item[method], new_item[method]
        ctx = Ctx(pointer=pointer.join("/paths", new_path, method))
        changes: list[Change] = []
        old_id, new_id = old_op.get("operationId"), new_op.get("operationId")
        if old_id and new_id and old_id != new_id:
            reason = f"operationId changed from {old_id!r} to {new_id!r}"
            changes.append(ctx.change("operation-id-changed", reason, "operationId"))
        changes += policies.lifecycle(old_op, new_op, ctx)
        old_params = self._params(self.old, old_path, old_item, method)
        new_params = self._params(self.new, new_path, new_item, method)
        changes += self._compare_params(old_params, new_params)
        changes += self._compare_body(old_op.get("requestBody"), new_op.get("requestBody"), ctx)
        changes += self._compare_responses(_mapping(old_op.get("responses")), _mapping(new_op.get("responses")), ctx)
        changes += self._compare_security(old_path, new_path, method, old_op, new_op, ctx)
        return changes

    # Parameters ----------------------------------------------------------------------------------

    @staticmethod
    def _params(resolver: Resolver, path: str, item: dict[str, Any], method: str) -> dict[tuple[str, str], _Param]:
        """Effective parameters (path-level overridden by operation-level), keyed for matching."""
        template = _TEMPLATE.findall(path)
        found: dict[tuple[str, str], _Param] = {}
        for base, declared in (
            (pointer.join("/paths", path), item),
            (pointer.join("/paths", path, method), item[method]),
        ):
            for index, raw in enumerate(_sequence(declared.get("parameters"))):
                node, chain = resolver.deref(raw)
                if not isinstance(node, dict) or not isinstance(node.get("name"), str):
                    continue
                name, location = node["name"], str(node.get("in", ""))
                if location == "header" and name.lower() in _IGNORED_HEADERS:
                    continue
                key = (
                    (location, str(template.index(name)))
                    if location == "path" and name in template
                    else (
                        location,
                        name.lower() if location == "header" else name,
                    )
                )
                found[key] = _Param(name, location, node, Ctx(pointer.join(base, "parameters", index)).through(chain))
        return found

    def _compare_params(self, old: dict[tuple[str, str], _Param], new: dict[tuple[str, str], _Param]) -> list[Change]:
        changes: list[Change] = []
        for key, param in old.items():
            if key not in new:
                changes.append(param.ctx.change("param-removed", f"{param.label} was removed"))
        for key, param in new.items():
            if key not in old:
                state = "required" if param.required else "optional"
                changes.append(param.ctx.change(f"param-added-{state}", f"new {state} {param.label}"))
                continue
            before = old[key]
            if before.required != param.required:
                state = "required" if param.required else "optional"
                changes.append(param.ctx.change(f"param-made-{state}", f"{param.label} is now {state}"))
            changes += self._compare_param_schema(before, param)
        return changes

    def _compare_param_schema(self, old: _Param, new: _Param) -> list[Change]:
        if "content" in old.node or "content" in new.node:
            return self._compare_content(old.node.get("content"), new.node.get("content"), "request", new.ctx)
        old_schema, new_schema = old.node.get("schema", {}), new.node.get("schema", {})
        items = self._exploded_items(old, new)
        if items is not None:
            reason = f"{new.label} now takes repeated values (?{new.name}=a&{new.name}=b); ?{new.name}=v still works"
            became = new.ctx.change("param-became-array", reason, "schema", "type")
            return [became, *self.schemas.compare(old_schema, items, "request", new.ctx.child("schema", "items"))]
        return self.schemas.compare(old_schema, new_schema, "request", new.ctx.child("schema"))

    def _exploded_items(self, old: _Param, new: _Param) -> Any | None:
        """The new items schema when a scalar query parameter became a form/explode array."""
        if (
            new.location != "query"
            or new.node.get("style", "form") != "form"
            or new.node.get("explode", True) is not True
        ):
            return None
        old_schema, _ = self.old.deref(normalize.peel(old.node.get("schema", {}))[0])
        new_schema, _ = self.new.deref(normalize.peel(new.node.get("schema", {}))[0])
        if not isinstance(old_schema, dict) or not isinstance(new_schema, dict):
            return None
        old_types, new_types = normalize.types(old_schema), normalize.types(new_schema)
        if not old_types or old_types & {"array", "object"} or new_types != {"array"}:
            return None
        return new_schema.get("items", {})

    # Bodies and responses ------------------------------------------------------------------------

    def _compare_body(self, old_raw: Any, new_raw: Any, op_ctx: Ctx) -> list[Change]:
        ctx = op_ctx.child("requestBody")
        if old_raw is None and new_raw is None:
            return []
        old_node, _ = self.old.deref(old_raw)
        new_node, chain = self.new.deref(new_raw)
        old = old_node if isinstance(old_node, dict) else None
        new = new_node if isinstance(new_node, dict) else None
        ctx = ctx.through(chain)
        if new is None:
            return [ctx.change("request-body-removed", "the request body is no longer accepted")]
        new_required = new.get("required") is True
        if old is None:
            state = "required" if new_required else "optional"
            return [ctx.change(f"request-body-added-{state}", f"new {state} request body")]
        changes: list[Change] = []
        if (old.get("required") is True) != new_required:
            state = "required" if new_required else "optional"
            changes.append(ctx.change(f"request-body-made-{state}", f"the request body is now {state}"))
        return changes + self._compare_content(old.get("content"), new.get("content"), "request", ctx)

    def _compare_content(self, old: Any, new: Any, direction: Direction, ctx: Ctx) -> list[Change]:
        old, new = _mapping(old), _mapping(new)
        changes: list[Change] = []
        verb = "accepted" if direction == "request" else "produced"
        for media in old:
            if media not in new:
                reason = f"{direction} media type {media} is no longer {verb}"
                changes.append(ctx.change(f"{direction}-content-type-removed", reason, "content", media))
        for media in new:
            if media not in old:
                changes.append(
                    ctx.change(
                        f"{direction}-content-type-added",
                        f"new {direction} media type {media}",
                        "content",
                        media,
                    )
                )
            elif isinstance(old[media], dict) and isinstance(new[media], dict):
                inner = ctx.child("content", media, "schema")
                changes += self.schemas.compare(
                    old[media].get("schema", {}), new[media].get("schema", {}), direction, inner
                )
        return changes

    def _compare_responses(self, old: dict[str, Any], new: dict[str, Any], op_ctx: Ctx) -> list[Change]:
        changes: list[Change] = []
        for code in old:
            if code not in new:
                # Clients may still handle a documented error; whether the API can still send it is unknown.
                rule = "error-response-removed" if code[:1] in ("4", "5") else "response-removed"
                changes.append(op_ctx.change(rule, f"response {code} was removed", "responses", code))
        for code in new:
            if code not in old:
                changes.append(op_ctx.change("response-added", f"new response {code}", "responses", code))
                continue
            old_response, _ = self.old.deref(old[code])
            new_response, chain = self.new.deref(new[code])
            ctx = op_ctx.child("responses", code).through(chain)
            if not isinstance(old_response, dict) or not isinstance(new_response, dict):
                continue
            changes += self._compare_content(old_response.get("content"), new_response.get("content"), "response", ctx)
            changes += headers.compare_headers(
                _mapping(old_response.get("headers")),
                _mapping(new_response.get("headers")),
                ctx,
                self.old,
                self.new,
                self.schemas,
            )
        return changes

    # Security ------------------------------------------------------------------------------------

    def _compare_security(
        self,
        old_path: str,
        new_path: str,
        method: str,
        old_op: dict[str, Any],
        new_op: dict[str, Any],
        op_ctx: Ctx,
    ) -> list[Change]:
        old_reqs, _ = security.effective(self.old_doc, old_op, pointer.join("/paths", old_path, method))
        new_reqs, new_at = security.effective(self.new_doc, new_op, pointer.join("/paths", new_path, method))
        return security.compare(old_reqs, new_reqs, Ctx(pointer=new_at, via=op_ctx.via))


def _mapping(value: Any) -> dict[str, Any]:
    """Malformed documents degrade to "nothing declared here" rather than a crash."""
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _by_shape(paths: dict[str, Any]) -> dict[str, str]:
    """Map each path's template shape (``/items/{}``) to the path; exact keys win on clashes."""
    shapes: dict[str, str] = {}
    for path in paths:
        shape = _TEMPLATE.sub("{}", path)
        shapes[path if shape in shapes else shape] = path
    return shapes


def _dedupe(changes: list[Change]) -> list[Change]:
    seen: set[tuple[str, str, tuple[str, ...], str | None]] = set()
    unique: list[Change] = []
    for change in changes:
        key = (change.rule, change.pointer, change.via, change.component_pointer)
        if key not in seen:
            seen.add(key)
            unique.append(change)
    return unique
