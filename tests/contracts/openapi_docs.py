"""Tiny factories for OpenAPI documents, so each rule test is a small, readable pair."""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]
JSON = "application/json"

# Pointers of the schemas the factories put in place (RFC 6901: "/" in a key becomes "~1").
RESP = "/paths/~1items/get/responses/200/content/application~1json/schema"
REQ = "/paths/~1items/post/requestBody/content/application~1json/schema"
GET = "/paths/~1items/get"
POST = "/paths/~1items/post"


def doc(paths: dict[str, Any] | None = None, *, schemas: dict[str, Any] | None = None, **extra: Any) -> Doc:
    document: Doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths or {}}
    if schemas is not None:
        document["components"] = {"schemas": schemas}
    document.update(extra)
    return document


def op(
    *,
    responses: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": responses or {"200": {"description": "ok"}}}
    if params is not None:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = body
    operation.update(extra)
    return operation


def ok(schema: dict[str, Any], code: str = "200", media: str = JSON) -> dict[str, Any]:
    return {code: {"description": "ok", "content": {media: {"schema": schema}}}}


def json_body(schema: dict[str, Any], *, required: bool = True, media: str = JSON) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


def obj(properties: dict[str, Any], *required: str, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def param(name: str, where: str = "query", *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's (OpenAPI 3.1) spelling of ``X | None``."""
    return {"anyOf": [schema, {"type": "null"}]}


def response_doc(schema: dict[str, Any], *, schemas: dict[str, Any] | None = None) -> Doc:
    """``GET /items`` returning ``schema``; the schema sits at ``RESP``."""
    return doc({"/items": {"get": op(responses=ok(schema))}}, schemas=schemas)


def request_doc(schema: dict[str, Any], *, schemas: dict[str, Any] | None = None) -> Doc:
    """``POST /items`` taking ``schema`` as JSON; the schema sits at ``REQ``."""
    return doc({"/items": {"post": op(body=json_body(schema))}}, schemas=schemas)


def params_doc(*params: dict[str, Any], path: str = "/items") -> Doc:
    return doc({path: {"get": op(params=list(params))}})


def item_schema(**overrides: Any) -> dict[str, Any]:
    """The reference app's Item, roughly."""
    properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "name": {"type": "string", "maxLength": 100},
        "description": nullable({"type": "string"}),
        "price": {"type": "number", "minimum": 0},
        "category": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    }
    properties.update(overrides)
    return obj(properties, "id", "name", "price", "category", "created_at")


def edit(document: Doc) -> Doc:
    """A deep copy to mutate into the "new" side of a pair."""
    return copy.deepcopy(document)


def found(old: Doc, new: Doc) -> list[tuple[str, str]]:
    """(rule id, pointer) of every change from ``old`` to ``new``, in report order."""
    from contracts.diff import diff_documents

    return [(change.rule, change.pointer) for change in diff_documents(old, new).changes]


def as_30(document: Doc) -> Doc:
    """The same document declared as OpenAPI 3.0 (for pairs whose syntax is valid in both)."""
    return {**document, "openapi": "3.0.3"}


def rules_at(old: Doc, new: Doc, **policy: Any) -> list[tuple[str, str]]:
    """Like ``found``, with a ``contracts.policies.Policy`` built from keyword arguments."""
    from contracts.diff import diff_documents
    from contracts.policies import Policy

    return [(change.rule, change.pointer) for change in diff_documents(old, new, Policy(**policy)).changes]
