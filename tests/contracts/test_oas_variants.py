"""``oneOf`` alternatives that overlap, and the things that must stay right around them."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.diff import diff_documents
from tests.contracts.openapi_docs import REQ, RESP, as_30, found, obj, request_doc, response_doc

Schema = dict[str, Any]
CARD = obj({"card": {"type": "string"}}, "card")
IBAN = obj({"iban": {"type": "string"}}, "iban")


def _versions(make: Any, old: Schema, new: Schema, version: str) -> list[tuple[str, str]]:
    before, after = make(old), make(new)
    return found(as_30(before), as_30(after)) if version == "3.0" else found(before, after)


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_wrapping_a_request_body_in_an_overlapping_oneof_is_breaking(version: str) -> None:
    """{"card": "x", "iban": "y"} was valid; now it matches both branches, which oneOf rejects."""
    new = {"oneOf": [CARD, IBAN]}
    assert _versions(request_doc, CARD, new, version) == [("request-oneof-overlap", REQ + "/oneOf/1")]
    assert diff_documents(request_doc(CARD), request_doc(new)).failed


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_adding_an_overlapping_oneof_branch_is_breaking(version: str) -> None:
    old = {"oneOf": [CARD, {"type": "string"}]}
    new = {"oneOf": [CARD, {"type": "string"}, IBAN]}
    assert _versions(request_doc, old, new, version) == [("request-oneof-overlap", REQ + "/oneOf/2")]


@pytest.mark.parametrize(
    "branch",
    [
        {"type": "string"},  # disjoint type
        obj({"kind": {"const": "iban"}, "iban": {"type": "string"}}, "kind", "iban"),  # const discriminator
        obj({"iban": {"type": "string"}}, "iban", additionalProperties=False),  # closed, needs iban
    ],
    ids=["other-type", "const-discriminator", "closed-object"],
)
def test_provably_disjoint_oneof_branch_is_only_a_new_variant(branch: Schema) -> None:
    card = obj({"kind": {"const": "card"}, "card": {"type": "string"}}, "kind", "card")
    old, new = {"oneOf": [card]}, {"oneOf": [card, branch]}
    assert found(request_doc(old), request_doc(new)) == [("request-variant-added", REQ + "/oneOf/1")]


def test_oneof_with_a_discriminator_picks_one_branch() -> None:
    new = {"oneOf": [CARD, IBAN], "discriminator": {"propertyName": "kind"}}
    assert found(request_doc({"oneOf": [CARD]}), request_doc(new)) == [("request-variant-added", REQ + "/oneOf/1")]


def test_overlapping_anyof_branch_is_fine() -> None:
    old, new = {"anyOf": [CARD]}, {"anyOf": [CARD, IBAN]}
    assert found(request_doc(old), request_doc(new)) == [("request-variant-added", REQ + "/anyOf/1")]


def test_response_gaining_an_anyof_alternative_stays_breaking() -> None:
    old, new = {"anyOf": [CARD]}, {"anyOf": [CARD, IBAN]}
    assert found(response_doc(old), response_doc(new)) == [("response-variant-added", RESP + "/anyOf/1")]
    assert diff_documents(response_doc(old), response_doc(new)).failed


def test_no_op_allof_and_read_only_stay_right() -> None:
    plain = obj({"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}}, "id", "name")
    wrapped = {"allOf": [plain]}
    assert found(request_doc(plain), request_doc(wrapped)) == []
    assert found(response_doc(plain), response_doc(wrapped)) == []
    secret = obj({"name": {"type": "string"}, "password": {"type": "string", "writeOnly": True}}, "name")
    assert found(response_doc(obj({"name": {"type": "string"}}, "name")), response_doc(secret)) == []
