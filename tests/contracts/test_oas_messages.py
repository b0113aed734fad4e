"""Response headers, webhooks (roles swapped), security scopes, scalar-to-array query parameters."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.diff import diff_documents
from tests.contracts.openapi_docs import GET, as_30, doc, edit, found, json_body, ok, op, param, params_doc

Doc = dict[str, Any]
ITEMS = {"type": "object", "properties": {"id": {"type": "integer"}}}
HEADER = GET + "/responses/200/headers/X-Total"


def _with_header(header: dict[str, Any], version: str = "3.1") -> Doc:
    document = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    document["paths"]["/items"]["get"]["responses"]["200"]["headers"] = {"X-Total": header}
    return as_30(document) if version == "3.0" else document


# Response headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_required_header_becoming_optional_is_breaking(version: str) -> None:
    required = _with_header({"required": True, "schema": {"type": "string"}}, version)
    optional = _with_header({"schema": {"type": "string"}}, version)
    assert found(required, optional) == [("response-header-made-optional", HEADER + "/required")]
    assert diff_documents(required, optional).failed
    assert found(optional, required) == [("response-header-made-required", HEADER + "/required")]


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_text_header_documented_as_integer_is_not_a_type_change(version: str) -> None:
    text = _with_header({"schema": {"type": "string"}}, version)
    number = _with_header({"schema": {"type": "integer"}}, version)
    assert found(text, number) == [("response-header-type-narrowed", HEADER + "/schema/type")]
    assert not diff_documents(text, number).failed
    # The reverse can break a client that parses the number.
    assert found(number, text) == [("type-changed", HEADER + "/schema/type")]


# Webhooks ---------------------------------------------------------------------------------------

EVENT = {"type": "object", "properties": {"id": {"type": "string"}, "kind": {"enum": ["created"]}}, "required": ["id"]}
HOOK = "/webhooks/itemCreated/post"


def _hook(**operation: Any) -> Doc:
    defaults: dict[str, Any] = {
        "requestBody": json_body(EVENT),
        "responses": {"200": {"description": "ack"}},
        "parameters": [{"name": "X-Signature", "in": "header", "required": True, "schema": {"type": "string"}}],
    }
    defaults.update(operation)
    return doc(webhooks={"itemCreated": {"post": defaults}})


def test_removed_and_added_webhook() -> None:
    assert found(_hook(), doc()) == [("webhook-removed", "/webhooks/itemCreated")]
    assert diff_documents(_hook(), doc()).failed
    assert found(doc(), _hook()) == [("webhook-added", "/webhooks/itemCreated")]
    with_put = _hook()
    with_put["webhooks"]["itemCreated"]["put"] = with_put["webhooks"]["itemCreated"]["post"]
    assert found(with_put, _hook()) == [("webhook-removed", "/webhooks/itemCreated/put")]


def test_webhook_payload_is_judged_as_something_the_api_sends() -> None:
    """A new required field is fine for the consumer; a removed one or a new enum value is not."""
    more = edit(EVENT) | {"properties": {**EVENT["properties"], "name": {"type": "string"}}, "required": ["id", "name"]}
    assert found(_hook(), _hook(requestBody=json_body(more))) == [
        ("response-property-added", HOOK + "/requestBody/content/application~1json/schema/properties/name")
    ]
    fewer = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    assert found(_hook(), _hook(requestBody=json_body(fewer))) == [
        ("response-property-removed", HOOK + "/requestBody/content/application~1json/schema/properties/kind")
    ]
    wider = edit(EVENT)
    wider["properties"]["kind"]["enum"] = ["created", "imported"]
    assert found(_hook(), _hook(requestBody=json_body(wider))) == [
        ("response-enum-widened", HOOK + "/requestBody/content/application~1json/schema/properties/kind/enum")
    ]


def test_webhook_body_rules() -> None:
    no_body = _hook()
    del no_body["webhooks"]["itemCreated"]["post"]["requestBody"]
    assert found(_hook(), no_body) == [("webhook-body-removed", HOOK + "/requestBody")]
    assert found(no_body, _hook()) == [("webhook-body-added", HOOK + "/requestBody")]
    optional = _hook(requestBody=json_body(EVENT, required=False))
    assert found(_hook(), optional) == [("webhook-body-made-optional", HOOK + "/requestBody/required")]
    assert found(optional, _hook()) == [("webhook-body-made-required", HOOK + "/requestBody/required")]
    both = _hook(requestBody={"required": True, "content": {"application/json": {"schema": EVENT}, "text/plain": {}}})
    assert found(_hook(), both) == [("webhook-content-type-added", HOOK + "/requestBody/content/text~1plain")]
    assert diff_documents(_hook(), both).failed
    assert found(both, _hook()) == [("webhook-content-type-removed", HOOK + "/requestBody/content/text~1plain")]


def test_webhook_parameter_rules_are_reversed() -> None:
    header = {"name": "X-Signature", "in": "header", "schema": {"type": "string"}}
    optional = _hook(parameters=[{**header, "required": False}])
    assert found(_hook(), optional) == [("webhook-param-made-optional", HOOK + "/parameters/0")]
    assert found(optional, _hook()) == [("webhook-param-made-required", HOOK + "/parameters/0")]
    assert found(_hook(), _hook(parameters=[])) == [("webhook-param-removed", HOOK + "/parameters/0")]
    assert found(_hook(parameters=[]), _hook()) == [("webhook-param-added", HOOK + "/parameters/0")]


def test_webhook_reply_is_judged_as_something_the_api_receives() -> None:
    ack = {"200": {"description": "ack"}, "410": {"description": "unsubscribe"}}
    assert found(_hook(responses=ack), _hook()) == [("webhook-response-removed", HOOK + "/responses/410")]
    assert found(_hook(), _hook(responses=ack)) == [("webhook-response-added", HOOK + "/responses/410")]
    loose = {"200": {"description": "ack", "content": {"application/json": {"schema": {"type": "string"}}}}}
    strict = {
        "200": {"description": "ack", "content": {"application/json": {"schema": {"type": "string", "maxLength": 5}}}}
    }
    assert found(_hook(responses=strict), _hook(responses=loose)) == [
        ("request-constraint-loosened", HOOK + "/responses/200/content/application~1json/schema/maxLength")
    ]


# Security scopes ------------------------------------------------------------------------------


def _secured(security: list[dict[str, list[str]]]) -> Doc:
    return doc({"/items": {"get": op(security=security)}})


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_requiring_a_subset_of_scopes_is_compatible(version: str) -> None:
    old, new = _secured([{"oauth": ["read", "write"]}]), _secured([{"oauth": ["read"]}])
    old, new = (as_30(old), as_30(new)) if version == "3.0" else (old, new)
    assert found(old, new) == [("security-requirement-relaxed", GET + "/security")]
    assert not diff_documents(old, new).failed
    assert found(new, old) == [("security-scopes-added", GET + "/security")]
    assert diff_documents(new, old).failed


def test_dropping_one_scheme_of_a_combined_requirement_is_compatible() -> None:
    old, new = _secured([{"apiKey": [], "oauth": ["read"]}]), _secured([{"oauth": ["read"]}])
    assert found(old, new) == [("security-requirement-relaxed", GET + "/security")]


def test_security_added_stays_breaking() -> None:
    assert found(doc({"/items": {"get": op()}}), _secured([{"bearer": []}])) == [("security-added", GET + "/security")]


# Scalar query parameter becoming a form/explode array -----------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_scalar_query_parameter_becoming_an_exploded_array_still_accepts_one_value(version: str) -> None:
    scalar = params_doc(param("tag", type="string"))
    array = params_doc(param("tag", type="array", items={"type": "string"}))
    if version == "3.0":
        scalar, array = as_30(scalar), as_30(array)
    at = GET + "/parameters/0/schema/type"
    assert found(scalar, array) == [("param-became-array", at)]
    assert not diff_documents(scalar, array).failed
    assert found(array, scalar) == [("type-changed", at)]


def test_array_items_are_compared_with_the_old_scalar() -> None:
    scalar = params_doc(param("tag", type="string", maxLength=20))
    array = params_doc(param("tag", type="array", items={"type": "string", "maxLength": 10}))
    assert found(scalar, array) == [
        ("param-became-array", GET + "/parameters/0/schema/type"),
        ("request-constraint-tightened", GET + "/parameters/0/schema/items/maxLength"),
    ]


def test_space_delimited_array_is_still_a_type_change() -> None:
    scalar = params_doc(param("tag", type="string"))
    array = params_doc(param("tag", type="array", items={"type": "string"}) | {"style": "spaceDelimited"})
    assert found(scalar, array) == [("type-changed", GET + "/parameters/0/schema/type")]


def test_path_level_parameter_still_applies() -> None:
    old = doc({"/items": {"parameters": [param("q")], "get": op()}})
    new = doc({"/items": {"parameters": [param("q", required=True)], "get": op()}})
    assert found(old, new) == [("param-made-required", "/paths/~1items/parameters/0")]
