"""Direction-aware schema rules: fields, types, formats, nullability, enums, constraints, variants."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.diff import diff_documents
from tests.contracts.openapi_docs import REQ, RESP, found, item_schema, nullable, obj, request_doc, response_doc


def _response(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    return found(response_doc(old), response_doc(new))


def _request(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    return found(request_doc(old), request_doc(new))


# Fields ---------------------------------------------------------------------------------------


def test_removed_response_field_is_breaking() -> None:
    old = obj({"id": {"type": "integer"}, "name": {"type": "string"}}, "id", "name")
    new = obj({"id": {"type": "integer"}}, "id")
    assert _response(old, new) == [("response-property-removed", RESP + "/properties/name")]


def test_renamed_response_field_is_reported_as_removed_with_a_hint() -> None:
    old = obj({"id": {"type": "integer"}, "name": {"type": "string"}})
    new = obj({"id": {"type": "integer"}, "title": {"type": "string"}})
    report = diff_documents(response_doc(old), response_doc(new))
    assert [(c.rule, c.pointer) for c in report.changes] == [
        ("response-property-removed", RESP + "/properties/name"),
        ("response-property-added", RESP + "/properties/title"),
    ]
    assert "renamed to 'title'" in report.changes[0].reason


def test_new_response_field_is_not_breaking() -> None:
    old = obj({"id": {"type": "integer"}})
    new = obj({"id": {"type": "integer"}, "etag": {"type": "string"}}, "etag")
    assert _response(old, new) == [("response-property-added", RESP + "/properties/etag")]
    assert not diff_documents(response_doc(old), response_doc(new)).failed


def test_response_field_no_longer_required_is_breaking() -> None:
    old = obj({"id": {"type": "integer"}}, "id")
    new = obj({"id": {"type": "integer"}})
    assert _response(old, new) == [("response-property-made-optional", RESP + "/properties/id")]
    assert _response(new, old) == [("response-property-made-required", RESP + "/properties/id")]


def test_new_optional_request_field_is_not_breaking() -> None:
    old = obj({"name": {"type": "string"}}, "name")
    new = obj({"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}, "name")
    assert _request(old, new) == [("request-property-added-optional", REQ + "/properties/tags")]
    assert not diff_documents(request_doc(old), request_doc(new)).failed


def test_request_field_made_required_is_breaking_and_the_reverse_is_not() -> None:
    optional, required = obj({"name": {"type": "string"}}), obj({"name": {"type": "string"}}, "name")
    assert _request(optional, required) == [("request-property-made-required", REQ + "/properties/name")]
    assert _request(required, optional) == [("request-property-made-optional", REQ + "/properties/name")]


def test_removed_request_field_is_breaking() -> None:
    old = obj({"name": {"type": "string"}, "legacy": {"type": "string"}})
    assert _request(old, obj({"name": {"type": "string"}})) == [
        ("request-property-removed", REQ + "/properties/legacy")
    ]


def test_same_schema_change_is_judged_by_direction() -> None:
    """A new required field breaks a request but is an addition in a response."""
    old = obj({"name": {"type": "string"}}, "name")
    new = obj({"name": {"type": "string"}, "sku": {"type": "string"}}, "name", "sku")
    assert _request(old, new) == [("request-property-added-required", REQ + "/properties/sku")]
    assert _response(old, new) == [("response-property-added", RESP + "/properties/sku")]


def test_read_only_field_is_not_part_of_the_request() -> None:
    old = obj({"name": {"type": "string"}}, "name")
    new = obj({"name": {"type": "string"}, "id": {"type": "integer", "readOnly": True}}, "name", "id")
    assert _request(old, new) == []


# Types and formats ----------------------------------------------------------------------------


def test_changed_response_type_is_breaking() -> None:
    old = item_schema()
    new = item_schema(price={"type": "string"})
    assert _response(old, new) == [("type-changed", RESP + "/properties/price/type")]


@pytest.mark.parametrize(
    ("direction", "old", "new", "rule"),
    [
        ("request", "integer", "number", "request-type-widened"),
        ("request", "number", "integer", "type-changed"),
        ("response", "number", "integer", "response-type-narrowed"),
        ("response", "integer", "number", "type-changed"),
    ],
)
def test_numeric_widening_depends_on_direction(direction: str, old: str, new: str, rule: str) -> None:
    compare, root = (_request, REQ) if direction == "request" else (_response, RESP)
    pair = compare(obj({"n": {"type": old}}), obj({"n": {"type": new}}))
    assert pair == [(rule, root + "/properties/n/type")]


def test_changed_format_is_breaking() -> None:
    old = item_schema()
    new = item_schema(created_at={"type": "string", "format": "date"})
    assert _response(old, new) == [("format-changed", RESP + "/properties/created_at/format")]


def test_dropped_request_format_is_not_breaking() -> None:
    old = obj({"email": {"type": "string", "format": "email"}})
    new = obj({"email": {"type": "string"}})
    assert _request(old, new) == [("request-format-removed", REQ + "/properties/email/format")]
    assert _request(new, old) == [("format-changed", REQ + "/properties/email/format")]


def test_response_gaining_a_format_is_not_breaking() -> None:
    old = obj({"id": {"type": "string"}})
    new = obj({"id": {"type": "string", "format": "uuid"}})
    assert _response(old, new) == [("response-format-added", RESP + "/properties/id/format")]
    assert _response(new, old) == [("format-changed", RESP + "/properties/id/format")]


# Nullability (OpenAPI 3.1 anyOf-null as FastAPI emits it, 3.0 nullable, type lists) -------------


def test_response_field_becoming_nullable_is_breaking() -> None:
    old = obj({"name": {"type": "string"}})
    new = obj({"name": nullable({"type": "string"})})
    assert _response(old, new) == [("response-nullable-added", RESP + "/properties/name")]
    assert _response(new, old) == [("response-nullable-removed", RESP + "/properties/name")]


def test_request_field_no_longer_nullable_is_breaking() -> None:
    old = obj({"note": nullable({"type": "string", "maxLength": 10})})
    new = obj({"note": {"type": "string", "maxLength": 10}})
    assert _request(old, new) == [("request-nullable-removed", REQ + "/properties/note")]
    assert _request(new, old) == [("request-nullable-added", REQ + "/properties/note")]


def test_spellings_of_nullable_are_equivalent() -> None:
    fastapi = obj({"n": nullable({"type": "string"})})
    openapi30 = obj({"n": {"type": "string", "nullable": True}})
    type_list = obj({"n": {"type": ["string", "null"]}})
    assert _response(fastapi, openapi30) == []
    assert _response(openapi30, type_list) == []
    assert _request(type_list, fastapi) == []


def test_change_inside_a_nullable_field_is_still_found() -> None:
    old = obj({"note": nullable({"type": "string", "maxLength": 10})})
    new = obj({"note": nullable({"type": "string", "maxLength": 5})})
    assert _request(old, new) == [("request-constraint-tightened", REQ + "/properties/note/maxLength")]


# Enums ----------------------------------------------------------------------------------------

STATUS = {"type": "string", "enum": ["pending", "running", "done"]}


def test_response_enum_widened_is_breaking() -> None:
    new = {**STATUS, "enum": ["pending", "running", "done", "cancelled"]}
    assert _response(obj({"status": STATUS}), obj({"status": new})) == [
        ("response-enum-widened", RESP + "/properties/status/enum")
    ]
    assert _response(obj({"status": new}), obj({"status": STATUS})) == [
        ("response-enum-narrowed", RESP + "/properties/status/enum")
    ]


def test_request_enum_narrowed_is_breaking() -> None:
    new = {**STATUS, "enum": ["pending"]}
    assert _request(obj({"status": STATUS}), obj({"status": new})) == [
        ("request-enum-narrowed", REQ + "/properties/status/enum")
    ]
    assert _request(obj({"status": new}), obj({"status": STATUS})) == [
        ("request-enum-widened", REQ + "/properties/status/enum")
    ]


def test_request_free_string_becoming_an_enum_is_breaking() -> None:
    old = obj({"sort": {"type": "string"}})
    new = obj({"sort": {"type": "string", "enum": ["price", "name"]}})
    assert _request(old, new) == [("request-enum-narrowed", REQ + "/properties/sort/enum")]


def test_const_counts_as_an_enum_of_one() -> None:
    old = obj({"kind": {"type": "string", "enum": ["item_report", "export"]}})
    new = obj({"kind": {"type": "string", "const": "item_report"}})
    assert _request(old, new) == [("request-enum-narrowed", REQ + "/properties/kind/const")]


# Constraints ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "old", "new"),
    [
        ("maxLength", 100, 50),
        ("minLength", 1, 3),
        ("maximum", 100, 99),
        ("minimum", 0, 1),
        ("maxItems", 20, 10),
        ("minItems", None, 1),
        ("pattern", None, "^[a-z]+$"),
        ("multipleOf", 0.01, 0.05),
    ],
)
def test_tightened_request_constraint_is_breaking(keyword: str, old: Any, new: Any) -> None:
    def schema(value: Any) -> dict[str, Any]:
        return obj({"f": {} if value is None else {keyword: value}})

    assert _request(schema(old), schema(new)) == [("request-constraint-tightened", f"{REQ}/properties/f/{keyword}")]
    assert _request(schema(new), schema(old)) == [("request-constraint-loosened", f"{REQ}/properties/f/{keyword}")]


def test_loosened_response_constraint_is_breaking() -> None:
    old = obj({"name": {"type": "string", "maxLength": 100}})
    new = obj({"name": {"type": "string", "maxLength": 200}})
    assert _response(old, new) == [("response-constraint-loosened", RESP + "/properties/name/maxLength")]
    assert _response(new, old) == [("response-constraint-tightened", RESP + "/properties/name/maxLength")]


def test_forbidding_unknown_request_fields_is_breaking() -> None:
    old = obj({"name": {"type": "string"}})
    new = obj({"name": {"type": "string"}}, additionalProperties=False)
    assert _request(old, new) == [("request-constraint-tightened", REQ + "/additionalProperties")]


def test_openapi_30_boolean_exclusive_maximum() -> None:
    old = obj({"n": {"type": "number", "maximum": 10}})
    new = obj({"n": {"type": "number", "maximum": 10, "exclusiveMaximum": True}})
    assert _request(old, new) == [("request-constraint-tightened", REQ + "/properties/n/exclusiveMaximum")]


def test_constraint_inside_array_items() -> None:
    old = obj({"tags": {"type": "array", "items": {"type": "string", "maxLength": 30}}})
    new = obj({"tags": {"type": "array", "items": {"type": "string", "maxLength": 20}}})
    assert _request(old, new) == [("request-constraint-tightened", REQ + "/properties/tags/items/maxLength")]


# Alternatives and composition -----------------------------------------------------------------

CARD = obj({"card": {"type": "string"}}, "card")
IBAN = obj({"iban": {"type": "string"}}, "iban")
PAYPAL = obj({"paypal": {"type": "string"}}, "paypal")


def test_response_gaining_a_oneof_variant_is_breaking() -> None:
    old, new = {"oneOf": [CARD, IBAN]}, {"oneOf": [CARD, IBAN, PAYPAL]}
    assert _response(old, new) == [("response-variant-added", RESP + "/oneOf/2")]
    assert _response(new, old) == [("response-variant-removed", RESP + "/oneOf/2")]


def test_request_losing_an_anyof_variant_is_breaking() -> None:
    old, new = {"anyOf": [CARD, IBAN]}, {"anyOf": [CARD]}
    assert _request(old, new) == [("request-variant-removed", REQ + "/anyOf/1")]
    assert _request(new, old) == [("request-variant-added", REQ + "/anyOf/1")]


def test_change_inside_a_matched_variant_is_found() -> None:
    old = {"oneOf": [CARD, {"type": "string", "maxLength": 10}]}
    new = {"oneOf": [CARD, {"type": "string", "maxLength": 5}]}
    assert _request(old, new) == [("request-constraint-tightened", REQ + "/oneOf/1/maxLength")]


def test_allof_is_merged_so_moving_a_field_between_branches_is_no_change() -> None:
    old = {"allOf": [obj({"id": {"type": "integer"}}, "id"), obj({"name": {"type": "string"}}, "name")]}
    new = {"allOf": [obj({"id": {"type": "integer"}, "name": {"type": "string"}}, "id", "name")]}
    assert _response(old, new) == []
    shrunk = {"allOf": [obj({"id": {"type": "integer"}}, "id"), obj({})]}
    assert _response(old, shrunk) == [("response-property-removed", RESP + "/properties/name")]


# Documentation-only edits ---------------------------------------------------------------------


def test_description_summary_title_and_example_edits_are_not_changes() -> None:
    old = response_doc(obj({"description": {"type": "string", "title": "D", "examples": ["a"]}}))
    old["paths"]["/items"]["get"]["summary"] = "List items"
    new = response_doc(
        obj({"description": {"type": "string", "title": "Desc", "description": "new", "examples": ["b"]}})
    )
    new["paths"]["/items"]["get"]["summary"] = "List all the items"
    new["paths"]["/items"]["get"]["description"] = "Now documented."
    new["info"]["description"] = "changed"
    assert found(old, new) == []
