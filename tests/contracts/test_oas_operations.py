"""Rules on paths, operations, parameters, request bodies, responses and security."""

from __future__ import annotations

from contracts.diff import diff_documents
from tests.contracts.openapi_docs import (
    GET,
    POST,
    REQ,
    doc,
    edit,
    found,
    json_body,
    ok,
    op,
    param,
    params_doc,
    request_doc,
)

ITEMS = {"type": "object", "properties": {"id": {"type": "integer"}}}


# Paths and operations -------------------------------------------------------------------------


def test_removed_path_is_breaking() -> None:
    old = doc({"/items": {"get": op()}, "/users": {"get": op()}})
    new = doc({"/items": {"get": op()}})
    assert found(old, new) == [("path-removed", "/paths/~1users")]
    assert diff_documents(old, new).failed


def test_new_path_is_not_breaking() -> None:
    old = doc({"/items": {"get": op()}})
    new = doc({"/items": {"get": op()}, "/a~b/{x}": {"get": op()}})
    report = diff_documents(old, new)
    assert found(old, new) == [("path-added", "/paths/~1a~0b~1{x}")]  # RFC 6901 escaping of ~ and /
    assert not report.failed


def test_removed_operation_is_breaking() -> None:
    old = doc({"/items": {"get": op(), "post": op()}})
    new = doc({"/items": {"get": op()}})
    assert found(old, new) == [("operation-removed", POST)]


def test_new_operation_is_not_breaking() -> None:
    old = doc({"/items": {"get": op()}})
    new = doc({"/items": {"get": op(), "delete": op()}})
    assert found(old, new) == [("operation-added", "/paths/~1items/delete")]
    assert not diff_documents(old, new).failed


def test_changed_operation_id_is_breaking() -> None:
    old = doc({"/items": {"get": op(operationId="items_list")}})
    new = doc({"/items": {"get": op(operationId="list_items")}})
    assert found(old, new) == [("operation-id-changed", GET + "/operationId")]


def test_renamed_path_parameter_is_the_same_path() -> None:
    old = doc({"/items/{id}": {"get": op(params=[param("id", "path", required=True)])}})
    new = doc({"/items/{item_id}": {"get": op(params=[param("item_id", "path", required=True)])}})
    assert found(old, new) == []


# Parameters -----------------------------------------------------------------------------------


def test_new_required_query_parameter_is_breaking() -> None:
    old = params_doc(param("limit"))
    new = params_doc(param("limit"), param("tenant", required=True))
    assert found(old, new) == [("param-added-required", GET + "/parameters/1")]


def test_new_optional_query_parameter_is_not_breaking() -> None:
    old = params_doc(param("limit"))
    new = params_doc(param("limit"), param("q"))
    assert found(old, new) == [("param-added-optional", GET + "/parameters/1")]
    assert not diff_documents(old, new).failed


def test_parameter_made_required_is_breaking() -> None:
    assert found(params_doc(param("q")), params_doc(param("q", required=True))) == [
        ("param-made-required", GET + "/parameters/0")
    ]


def test_parameter_made_optional_is_not_breaking() -> None:
    old, new = params_doc(param("q", required=True)), params_doc(param("q"))
    assert found(old, new) == [("param-made-optional", GET + "/parameters/0")]
    assert not diff_documents(old, new).failed


def test_removed_parameter_is_breaking_and_points_into_the_old_document() -> None:
    old = params_doc(param("limit"), param("offset"))
    new = params_doc(param("limit"))
    assert found(old, new) == [("param-removed", GET + "/parameters/1")]
    assert "query parameter 'offset'" in diff_documents(old, new).changes[0].reason


def test_lowered_parameter_maximum_is_breaking() -> None:
    old = params_doc(param("limit", type="integer", maximum=100))
    new = params_doc(param("limit", type="integer", maximum=50))
    assert found(old, new) == [("request-constraint-tightened", GET + "/parameters/0/schema/maximum")]


def test_raised_parameter_maximum_is_not_breaking() -> None:
    old = params_doc(param("limit", type="integer", maximum=100))
    new = params_doc(param("limit", type="integer", maximum=500))
    assert found(old, new) == [("request-constraint-loosened", GET + "/parameters/0/schema/maximum")]
    assert not diff_documents(old, new).failed


def test_path_level_parameter_applies_to_operations() -> None:
    old = doc({"/items": {"get": op()}})
    new = doc({"/items": {"parameters": [param("tenant", "header", required=True)], "get": op()}})
    assert found(old, new) == [("param-added-required", "/paths/~1items/parameters/0")]


# Request bodies -------------------------------------------------------------------------------


def test_operation_gaining_a_required_body_is_breaking() -> None:
    old = doc({"/items": {"post": op()}})
    new = doc({"/items": {"post": op(body=json_body(ITEMS))}})
    assert found(old, new) == [("request-body-added-required", POST + "/requestBody")]


def test_request_body_made_required_is_breaking() -> None:
    old = doc({"/items": {"post": op(body=json_body(ITEMS, required=False))}})
    new = doc({"/items": {"post": op(body=json_body(ITEMS))}})
    assert found(old, new) == [("request-body-made-required", POST + "/requestBody")]


def test_request_body_made_optional_or_added_as_optional_is_not_breaking() -> None:
    without = doc({"/items": {"post": op()}})
    optional = doc({"/items": {"post": op(body=json_body(ITEMS, required=False))}})
    required = doc({"/items": {"post": op(body=json_body(ITEMS))}})
    assert found(required, optional) == [("request-body-made-optional", POST + "/requestBody")]
    assert found(without, optional) == [("request-body-added-optional", POST + "/requestBody")]
    assert not diff_documents(without, optional).failed


def test_dropped_request_body_is_breaking() -> None:
    old = doc({"/items": {"post": op(body=json_body(ITEMS, required=False))}})
    new = doc({"/items": {"post": op()}})
    assert found(old, new) == [("request-body-removed", POST + "/requestBody")]


def test_removed_request_content_type_is_breaking() -> None:
    old = request_doc(ITEMS)
    old["paths"]["/items"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"] = {"schema": ITEMS}
    new = request_doc(ITEMS)
    assert found(old, new) == [
        ("request-content-type-removed", POST + "/requestBody/content/application~1x-www-form-urlencoded")
    ]


def test_added_request_content_type_is_not_breaking() -> None:
    old = request_doc(ITEMS)
    new = edit(old)
    new["paths"]["/items"]["post"]["requestBody"]["content"]["application/yaml"] = {"schema": ITEMS}
    assert found(old, new) == [("request-content-type-added", POST + "/requestBody/content/application~1yaml")]
    assert not diff_documents(old, new).failed


def test_required_body_field_added_reports_the_field() -> None:
    old = request_doc({"type": "object", "properties": {"name": {"type": "string"}}})
    new = edit(old)
    new["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "category": {"type": "string"}},
        "required": ["category"],
    }
    assert found(old, new) == [("request-property-added-required", REQ + "/properties/category")]


# Responses ------------------------------------------------------------------------------------


def test_removed_response_code_is_breaking() -> None:
    old = doc({"/items": {"get": op(responses={**ok(ITEMS), "206": {"description": "partial"}})}})
    new = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    assert found(old, new) == [("response-removed", GET + "/responses/206")]
    assert diff_documents(old, new).failed


def test_new_response_code_is_noted_but_not_breaking() -> None:
    old = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    new = doc({"/items": {"get": op(responses={**ok(ITEMS), "429": {"description": "slow down"}})}})
    report = diff_documents(old, new)
    assert found(old, new) == [("response-added", GET + "/responses/429")]
    assert not report.failed
    assert report.non_breaking == report.changes


def test_removed_response_content_type_is_breaking() -> None:
    old = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    new = doc({"/items": {"get": op(responses=ok(ITEMS, media="application/problem+json"))}})
    assert found(old, new) == [
        ("response-content-type-removed", GET + "/responses/200/content/application~1json"),
        ("response-content-type-added", GET + "/responses/200/content/application~1problem+json"),
    ]


def test_removed_response_header_is_breaking() -> None:
    old = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    old["paths"]["/items"]["get"]["responses"]["200"]["headers"] = {"ETag": {"schema": {"type": "string"}}}
    new = doc({"/items": {"get": op(responses=ok(ITEMS))}})
    assert found(old, new) == [("response-header-removed", GET + "/responses/200/headers/ETag")]
    assert found(new, old) == [("response-header-added", GET + "/responses/200/headers/ETag")]


# Security -------------------------------------------------------------------------------------

BEARER = {"bearer": []}
API_KEY = {"apiKey": []}


def _secured(security: list[dict[str, list[str]]] | None, *, top: list[dict[str, list[str]]] | None = None) -> dict:
    operation = op() if security is None else op(security=security)
    return doc({"/items": {"get": operation}}) | ({"security": top} if top is not None else {})


def test_required_security_on_an_open_operation_is_breaking() -> None:
    assert found(_secured(None), _secured([BEARER])) == [("security-added", GET + "/security")]


def test_optional_security_to_required_is_breaking() -> None:
    assert found(_secured([{}, BEARER]), _secured([BEARER])) == [("security-added", GET + "/security")]


def test_removed_security_alternative_is_breaking() -> None:
    old, new = _secured([BEARER, API_KEY]), _secured([BEARER])
    assert found(old, new) == [("security-alternative-removed", GET + "/security")]
    assert "apiKey" in diff_documents(old, new).changes[0].reason


def test_new_security_alternative_is_not_breaking() -> None:
    old, new = _secured([BEARER]), _secured([BEARER, API_KEY])
    assert found(old, new) == [("security-alternative-added", GET + "/security")]
    assert not diff_documents(old, new).failed


def test_dropping_security_is_not_breaking() -> None:
    assert found(_secured([BEARER]), _secured([])) == [("security-removed", GET + "/security")]


def test_extra_scope_turns_tokens_away() -> None:
    old, new = _secured([{"oauth": ["read"]}]), _secured([{"oauth": ["read", "write"]}])
    assert found(old, new) == [("security-scopes-added", GET + "/security")]
    assert diff_documents(old, new).failed


def test_inherited_document_security_points_at_the_top_level() -> None:
    old, new = _secured(None, top=[BEARER, API_KEY]), _secured(None, top=[API_KEY])
    assert found(old, new) == [("security-alternative-removed", "/security")]
