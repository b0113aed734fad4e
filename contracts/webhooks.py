"""Webhooks (OpenAPI 3.1): the same operations with the roles swapped.

For a webhook the API is the client: it *sends* the parameters and body, and the consumer
*receives* them and replies. So the payload is judged by response rules (it may only come to
carry less variety: a new field is fine, a new enum value or a removed field is not) and the
consumer's reply by request rules. The operation-level rules have their own ids (``webhook-*``),
because their direction is the reverse of the path rules of the same name.
"""

from __future__ import annotations

from typing import Any

from contracts import pointer
from contracts.context import METHODS, Ctx
from contracts.model import Change
from contracts.refs import Resolver
from contracts.schemas import SchemaDiffer


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class WebhookDiffer:
    def __init__(self, old: Resolver, new: Resolver, schemas: SchemaDiffer) -> None:
        self.old, self.new, self.schemas = old, new, schemas

    def run(self) -> list[Change]:
        old_hooks = _mapping(self.old.document.get("webhooks"))
        new_hooks = _mapping(self.new.document.get("webhooks"))
        changes: list[Change] = []
        for name in old_hooks:
            if name not in new_hooks:
                gone = pointer.join("/webhooks", name)
                changes.append(Change("webhook-removed", gone, f"webhook {name!r} is no longer sent"))
        for name, raw in new_hooks.items():
            where = Ctx(pointer=pointer.join("/webhooks", name))
            if name not in old_hooks:
                changes.append(where.change("webhook-added", f"new webhook {name!r}"))
                continue
            old_item = _mapping(self.old.deref(old_hooks[name])[0])
            new_item = _mapping(self.new.deref(raw)[0])
            for method in METHODS:
                in_old, in_new = isinstance(old_item.get(method), dict), isinstance(new_item.get(method), dict)
                label = f"webhook {name!r} ({method.upper()})"
                if in_old and not in_new:
                    changes.append(where.change("webhook-removed", f"{label} is no longer sent", method))
                elif in_new and not in_old:
                    changes.append(where.change("webhook-added", f"new {label}", method))
                elif in_old and in_new:
                    changes += self._operation(old_item, new_item, method, where.child(method))
        return changes

    def _operation(self, old_item: dict[str, Any], new_item: dict[str, Any], method: str, ctx: Ctx) -> list[Change]:
        old_op, new_op = old_item[method], new_item[method]
        hook = ctx.pointer.rsplit("/", 1)[0]
        changes = self._params(
            self._collect(self.old, old_item, method, hook), self._collect(self.new, new_item, method, hook)
        )
        changes += self._body(old_op.get("requestBody"), new_op.get("requestBody"), ctx.child("requestBody"))
        changes += self._replies(_mapping(old_op.get("responses")), _mapping(new_op.get("responses")), ctx)
        return changes

    @staticmethod
    def _collect(
        resolver: Resolver, item: dict[str, Any], method: str, hook: str
    ) -> dict[tuple[str, str], tuple[dict[str, Any], Ctx]]:
        found: dict[tuple[str, str], tuple[dict[str, Any], Ctx]] = {}
        for base, declared in ((hook, item), (pointer.join(hook, method), item[method])):
            raw_params = declared.get("parameters")
            for index, raw in enumerate(raw_params if isinstance(raw_params, list) else []):
                node, chain = resolver.deref(raw)
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    location = str(node.get("in", ""))
                    key = (location, node["name"].lower() if location == "header" else node["name"])
                    found[key] = (node, Ctx(pointer.join(base, "parameters", index)).through(chain))
        return found

    def _params(
        self,
        old: dict[tuple[str, str], tuple[dict[str, Any], Ctx]],
        new: dict[tuple[str, str], tuple[dict[str, Any], Ctx]],
    ) -> list[Change]:
        changes: list[Change] = []
        for key, (_, ctx) in old.items():
            if key not in new:
                changes.append(ctx.change("webhook-param-removed", f"{key[0]} parameter {key[1]!r} is no longer sent"))
        for key, (node, ctx) in new.items():
            if key not in old:
                changes.append(ctx.change("webhook-param-added", f"{key[0]} parameter {key[1]!r} is now sent"))
                continue
            before = old[key][0]
            was, now = before.get("required") is True, node.get("required") is True
            if was != now:
                state = "required" if now else "optional"
                changes.append(
                    ctx.change(f"webhook-param-made-{state}", f"{key[0]} parameter {key[1]!r} is now {state}")
                )
            changes += self.schemas.compare(
                before.get("schema", {}), node.get("schema", {}), "response", ctx.child("schema")
            )
        return changes

    def _body(self, old_raw: Any, new_raw: Any, ctx: Ctx) -> list[Change]:
        old, _ = self.old.deref(old_raw)
        new, chain = self.new.deref(new_raw)
        ctx = ctx.through(chain)
        if not isinstance(old, dict) and not isinstance(new, dict):
            return []
        if not isinstance(new, dict):
            return [ctx.change("webhook-body-removed", "the webhook no longer sends a body")]
        if not isinstance(old, dict):
            return [ctx.change("webhook-body-added", "the webhook now sends a body")]
        changes: list[Change] = []
        was, now = old.get("required") is True, new.get("required") is True
        if was != now:
            state = "required" if now else "optional"
            changes.append(ctx.change(f"webhook-body-made-{state}", f"the webhook body is now {state}", "required"))
        old_content, new_content = _mapping(old.get("content")), _mapping(new.get("content"))
        for media in old_content:
            if media not in new_content:
                reason = f"the webhook no longer sends {media}"
                changes.append(ctx.change("webhook-content-type-removed", reason, "content", media))
        for media, node in new_content.items():
            if media not in old_content:
                reason = f"the webhook may now send {media}: consumers can't negotiate it away"
                changes.append(ctx.change("webhook-content-type-added", reason, "content", media))
            elif isinstance(node, dict) and isinstance(old_content[media], dict):
                inner = ctx.child("content", media, "schema")
                changes += self.schemas.compare(
                    old_content[media].get("schema", {}), node.get("schema", {}), "response", inner
                )
        return changes

    def _replies(self, old: dict[str, Any], new: dict[str, Any], ctx: Ctx) -> list[Change]:
        changes: list[Change] = []
        for code in old:
            if code not in new:
                reason = f"consumer reply {code} is no longer documented: the API may not handle it"
                changes.append(ctx.change("webhook-response-removed", reason, "responses", code))
        for code, raw in new.items():
            if code not in old:
                changes.append(
                    ctx.change("webhook-response-added", f"consumer reply {code} is now documented", "responses", code)
                )
                continue
            old_reply, _ = self.old.deref(old[code])
            new_reply, chain = self.new.deref(raw)
            if not isinstance(old_reply, dict) or not isinstance(new_reply, dict):
                continue
            here = ctx.child("responses", code).through(chain)
            old_content, new_content = _mapping(old_reply.get("content")), _mapping(new_reply.get("content"))
            for media, node in new_content.items():
                if isinstance(node, dict) and isinstance(old_content.get(media), dict):
                    inner = here.child("content", media, "schema")
                    changes += self.schemas.compare(
                        old_content[media].get("schema", {}), node.get("schema", {}), "request", inner
                    )
        return changes
