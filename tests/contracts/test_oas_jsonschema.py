"""JSON Schema 2020-12 keywords, ``not`` (inverted), ``pattern`` direction, new limits, defaults.

Each case is an old/new pair judged in one direction; the reverse pair is checked too where it is
the mirror image. Keywords that exist in OpenAPI 3.0 (``not``, ``pattern``, ``maxLength``,
``default``, ``items``) are run in both 3.0 and 3.1 documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.diff import diff_documents
from tests.contracts.openapi_docs import REQ, RESP, as_30, found, obj, request_doc, response_doc

Schema = dict[str, Any]
ARR: Schema = {"type": "array", "items": {"type": "string"}}
CARD: Schema = obj({"card": {"type": "string"}, "billing": {"type": "string"}})


def _pair(direction: str, old: Schema, new: Schema, version: str = "3.1") -> list[tuple[str, str]]:
    make = request_doc if direction == "request" else response_doc
    before, after = make(old), make(new)
    if version == "3.0":
        before, after = as_30(before), as_30(after)
    return found(before, after)


def _root(direction: str) -> str:
    return REQ if direction == "request" else RESP


def _narrowed(direction: str) -> str:
    return "request-constraint-tightened" if direction == "request" else "response-constraint-tightened"


def _widened(direction: str) -> str:
    return "request-constraint-loosened" if direction == "request" else "response-constraint-loosened"


# (label, old, new, pointer suffix): every pair narrows what the schema accepts.
NARROWING_2020: list[tuple[str, Schema, Schema, str]] = [
    ("contains added", ARR, {**ARR, "contains": {"const": "admin"}}, "/contains"),
    ("dependentRequired added", CARD, {**CARD, "dependentRequired": {"card": ["billing"]}}, "/dependentRequired/card"),
    (
        "dependentRequired grows",
        {**CARD, "dependentRequired": {"card": []}},
        {**CARD, "dependentRequired": {"card": ["billing"]}},
        "/dependentRequired/card",
    ),
    (
        "dependentSchemas added",
        CARD,
        {**CARD, "dependentSchemas": {"card": {"required": ["billing"]}}},
        "/dependentSchemas/card",
    ),
    (
        "if/then added",
        CARD,
        {**CARD, "if": {"required": ["card"]}, "then": {"required": ["billing"]}},
        "/if",
    ),
    (
        "patternProperties added",
        obj({}),
        obj({}, patternProperties={"^x-": {"type": "string"}}),
        "/patternProperties/^x-",
    ),
    (
        "prefixItems grows",
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "/prefixItems/1",
    ),
    ("propertyNames added", obj({}), obj({}, propertyNames={"maxLength": 8}), "/propertyNames"),
    ("unevaluatedProperties false", CARD, {**CARD, "unevaluatedProperties": False}, "/unevaluatedProperties"),
    (
        "unevaluatedItems false",
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "prefixItems": [{"type": "string"}], "unevaluatedItems": False},
        "/unevaluatedItems",
    ),
    (
        "contentSchema added",
        {"type": "string", "contentMediaType": "application/json"},
        {"type": "string", "contentMediaType": "application/json", "contentSchema": {"type": "object"}},
        "/contentSchema",
    ),
]


@pytest.mark.parametrize("direction", ["request", "response"])
@pytest.mark.parametrize(("label", "old", "new", "at"), NARROWING_2020, ids=[c[0] for c in NARROWING_2020])
def test_2020_12_keyword_narrowing_is_judged_by_direction(
    direction: str, label: str, old: Schema, new: Schema, at: str
) -> None:
    assert _pair(direction, old, new) == [(_narrowed(direction), _root(direction) + at)], label
    assert _pair(direction, new, old) == [(_widened(direction), _root(direction) + at)], label


def test_narrowed_request_keyword_fails_and_widened_response_keyword_fails() -> None:
    old, new = CARD, {**CARD, "dependentRequired": {"card": ["billing"]}}
    assert diff_documents(request_doc(old), request_doc(new)).failed
    assert not diff_documents(response_doc(old), response_doc(new)).failed
    assert diff_documents(response_doc(new), response_doc(old)).failed


# Changes inside a subschema are found and pointed at.
INSIDE_2020: list[tuple[Schema, Schema, str]] = [
    ({**ARR, "contains": {"maxLength": 9}}, {**ARR, "contains": {"maxLength": 5}}, "/contains/maxLength"),
    (
        {**CARD, "dependentSchemas": {"card": obj({"zip": {"maxLength": 10}})}},
        {**CARD, "dependentSchemas": {"card": obj({"zip": {"maxLength": 5}})}},
        "/dependentSchemas/card/properties/zip/maxLength",
    ),
    (
        {**CARD, "if": {"required": ["card"]}, "then": obj({"billing": {"maxLength": 10}})},
        {**CARD, "if": {"required": ["card"]}, "then": obj({"billing": {"maxLength": 5}})},
        "/then/properties/billing/maxLength",
    ),
    (
        obj({}, patternProperties={"^x-": {"maxLength": 10}}),
        obj({}, patternProperties={"^x-": {"maxLength": 5}}),
        "/patternProperties/^x-/maxLength",
    ),
    (
        {"type": "array", "prefixItems": [{"maxLength": 10}]},
        {"type": "array", "prefixItems": [{"maxLength": 5}]},
        "/prefixItems/0/maxLength",
    ),
    (obj({}, propertyNames={"maxLength": 10}), obj({}, propertyNames={"maxLength": 5}), "/propertyNames/maxLength"),
    (
        obj({}, unevaluatedProperties={"maxLength": 10}),
        obj({}, unevaluatedProperties={"maxLength": 5}),
        "/unevaluatedProperties/maxLength",
    ),
    (
        {"type": "string", "contentSchema": obj({"a": {"maxLength": 10}})},
        {"type": "string", "contentSchema": obj({"a": {"maxLength": 5}})},
        "/contentSchema/properties/a/maxLength",
    ),
]


@pytest.mark.parametrize("direction", ["request", "response"])
@pytest.mark.parametrize(("old", "new", "at"), INSIDE_2020, ids=[c[2] for c in INSIDE_2020])
def test_change_inside_a_2020_12_subschema(direction: str, old: Schema, new: Schema, at: str) -> None:
    assert _pair(direction, old, new) == [(_narrowed(direction), _root(direction) + at)]


@pytest.mark.parametrize("direction", ["request", "response"])
def test_changed_if_condition_is_undecidable(direction: str) -> None:
    old = {**CARD, "if": {"required": ["card"]}, "then": {"required": ["billing"]}}
    new = {**CARD, "if": {"required": ["billing"]}, "then": {"required": ["card"]}}
    assert _pair(direction, old, new) == [(f"{direction}-constraint-undecidable", _root(direction) + "/if")]
    report = diff_documents(request_doc(old), request_doc(new))
    assert [c.level for c in report.changes] == ["warning"]


@pytest.mark.parametrize("keyword", ["contentEncoding", "contentMediaType"])
def test_content_encoding_and_media_type_are_compared_like_format(keyword: str) -> None:
    values = {"contentEncoding": ("base64", "base64url"), "contentMediaType": ("image/png", "image/jpeg")}[keyword]
    one, other = ({"type": "string", keyword: v} for v in values)
    plain = {"type": "string"}
    assert _pair("request", one, other) == [("format-changed", f"{REQ}/{keyword}")]
    assert _pair("response", one, other) == [("format-changed", f"{RESP}/{keyword}")]
    assert _pair("request", one, plain) == [("request-format-removed", f"{REQ}/{keyword}")]
    assert _pair("response", plain, one) == [("response-format-added", f"{RESP}/{keyword}")]


# Applicators that exist in 3.0 as well ------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
@pytest.mark.parametrize("direction", ["request", "response"])
def test_items_and_additional_properties_schema_appearing_narrows(version: str, direction: str) -> None:
    untyped = {"type": "array"}
    typed = {"type": "array", "items": {"type": "string"}}
    assert _pair(direction, untyped, typed, version) == [(_narrowed(direction), _root(direction) + "/items")]
    open_map = {"type": "object"}
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    assert _pair(direction, open_map, string_map, version) == [
        (_narrowed(direction), _root(direction) + "/additionalProperties")
    ]
    assert _pair(direction, string_map, open_map, version) == [
        (_widened(direction), _root(direction) + "/additionalProperties")
    ]


# not --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_not_inverts_the_direction(version: str) -> None:
    excludes_a = obj({"s": {"type": "string", "not": {"enum": ["a"]}}})
    excludes_ab = obj({"s": {"type": "string", "not": {"enum": ["a", "b"]}}})
    at = "/properties/s/not/enum"
    # The `not` schema matches more, so the field accepts less: breaks a request, fine in a response.
    assert _pair("request", excludes_a, excludes_ab, version) == [("request-narrowed-by-not", REQ + at)]
    assert _pair("request", excludes_ab, excludes_a, version) == [("request-widened-by-not", REQ + at)]
    assert _pair("response", excludes_a, excludes_ab, version) == [("response-narrowed-by-not", RESP + at)]
    assert _pair("response", excludes_ab, excludes_a, version) == [("response-widened-by-not", RESP + at)]
    assert diff_documents(request_doc(excludes_a), request_doc(excludes_ab)).failed
    assert diff_documents(response_doc(excludes_ab), response_doc(excludes_a)).failed
    assert not diff_documents(response_doc(excludes_a), response_doc(excludes_ab)).failed


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_not_added_or_removed(version: str) -> None:
    plain = obj({"s": {"type": "string"}})
    excluding = obj({"s": {"type": "string", "not": {"maxLength": 0}}})
    assert _pair("request", plain, excluding, version) == [("request-narrowed-by-not", REQ + "/properties/s/not")]
    assert _pair("response", excluding, plain, version) == [("response-widened-by-not", RESP + "/properties/s/not")]


def test_constraint_loosened_inside_not_narrows_the_request() -> None:
    old = obj({"n": {"type": "integer", "not": {"maximum": 0}}})  # positive numbers
    new = obj({"n": {"type": "integer", "not": {"maximum": 10}}})  # only above 10
    assert _pair("request", old, new) == [("request-narrowed-by-not", REQ + "/properties/n/not/maximum")]


# pattern direction ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
@pytest.mark.parametrize("direction", ["request", "response"])
def test_pattern_direction(version: str, direction: str) -> None:
    def schema(pattern: str | None) -> Schema:
        return obj({"code": {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}})

    at = _root(direction) + "/properties/code/pattern"
    undecidable = {"request": "request-constraint-undecidable", "response": "response-constraint-undecidable"}[
        direction
    ]
    assert _pair(direction, schema("^[a-z]+$"), schema("^[0-9]+$"), version) == [(undecidable, at)]
    assert _pair(direction, schema("^[a-z]+$"), schema(None), version) == [(_widened(direction), at)]
    assert _pair(direction, schema("^[a-z]+$"), schema(".*"), version) == [(_widened(direction), at)]
    assert _pair(direction, schema(""), schema("^[a-z]+$"), version) == [(_narrowed(direction), at)]
    assert _pair(direction, schema(None), schema(".*"), version) == []


def test_unrelated_pattern_change_is_a_warning_not_a_guess() -> None:
    old = obj({"code": {"type": "string", "pattern": "^[a-z]+$"}})
    new = obj({"code": {"type": "string", "pattern": "^[0-9]+$"}})
    report = diff_documents(response_doc(old), response_doc(new))
    assert [c.level for c in report.changes] == ["warning"]
    assert not report.failed


# New limits and defaults ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_new_upper_limit_on_a_request_value_is_a_warning(version: str) -> None:
    old, new = obj({"name": {"type": "string"}}), obj({"name": {"type": "string", "maxLength": 50}})
    assert _pair("request", old, new, version) == [("request-limit-added", REQ + "/properties/name/maxLength")]
    report = diff_documents(request_doc(old), request_doc(new))
    assert [c.level for c in report.changes] == ["warning"]
    assert not report.failed
    assert _pair("response", old, new, version) == [
        ("response-constraint-tightened", RESP + "/properties/name/maxLength")
    ]


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_changed_default_is_a_request_warning_and_response_info(version: str) -> None:
    old = obj({"size": {"type": "integer", "default": 20}})
    new = obj({"size": {"type": "integer", "default": 50}})
    assert _pair("request", old, new, version) == [("request-default-changed", REQ + "/properties/size/default")]
    assert _pair("response", old, new, version) == [("response-default-changed", RESP + "/properties/size/default")]
    assert [c.level for c in diff_documents(request_doc(old), request_doc(new)).changes] == ["warning"]
