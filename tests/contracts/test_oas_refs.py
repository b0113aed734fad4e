"""$ref handling: changes inside components are found at every use site and attributed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from contracts.diff import diff_documents
from contracts.model import DiffReport
from harness.exitcodes import USAGE, HarnessError
from tests.contracts.openapi_docs import GET, RESP, doc, edit, found, item_schema, obj, ok, op, param, ref, response_doc

ITEM = "#/components/schemas/Item"


def test_change_inside_a_referenced_schema_is_attributed_to_the_component() -> None:
    old = response_doc(ref("Item"), schemas={"Item": item_schema()})
    new = edit(old)
    del new["components"]["schemas"]["Item"]["properties"]["category"]
    new["components"]["schemas"]["Item"]["required"].remove("category")
    [change] = diff_documents(old, new).changes
    assert (change.rule, change.pointer) == ("response-property-removed", RESP + "/properties/category")
    assert change.via == (ITEM,)
    assert change.component_pointer == "/components/schemas/Item/properties/category"


def test_component_used_twice_is_reported_at_each_use_site_once_per_direction() -> None:
    schemas = {"Item": item_schema()}
    old = doc(
        {
            "/items": {"get": op(responses=ok({"type": "array", "items": ref("Item")}))},
            "/items/{item_id}": {
                "get": op(params=[param("item_id", "path", required=True)], responses=ok(ref("Item")))
            },
        },
        schemas=schemas,
    )
    new = edit(old)
    new["components"]["schemas"]["Item"]["properties"]["price"] = {"type": "string"}
    report = diff_documents(old, new)
    assert [(c.rule, c.pointer, c.component_pointer) for c in report.changes] == [
        (
            "type-changed",
            RESP + "/items/properties/price/type",
            "/components/schemas/Item/properties/price/type",
        ),
        (
            "type-changed",
            "/paths/~1items~1{item_id}/get/responses/200/content/application~1json/schema/properties/price/type",
            "/components/schemas/Item/properties/price/type",
        ),
    ]


def test_nested_refs_are_followed_and_the_chain_is_reported() -> None:
    schemas: dict[str, Any] = {
        "ItemList": obj({"items": {"type": "array", "items": ref("Item")}, "total": {"type": "integer"}}),
        "Item": obj({"id": {"type": "integer"}, "owner": ref("Owner")}),
        "Owner": obj({"id": {"type": "integer"}}, "id"),
    }
    old = response_doc(ref("ItemList"), schemas=schemas)
    new = edit(old)
    new["components"]["schemas"]["Owner"]["properties"]["id"] = {"type": "string", "format": "uuid"}
    [change] = diff_documents(old, new).changes
    assert change.rule == "type-changed"
    assert change.pointer == RESP + "/properties/items/items/properties/owner/properties/id/type"
    assert change.via == ("#/components/schemas/ItemList", ITEM, "#/components/schemas/Owner")
    assert change.component_pointer == "/components/schemas/Owner/properties/id/type"


def _in_thread(old: dict[str, Any], new: dict[str, Any]) -> DiffReport:
    """Run the diff with a deadline, so a cycle bug fails the test instead of hanging the suite."""
    result: list[DiffReport] = []
    worker = threading.Thread(target=lambda: result.append(diff_documents(old, new)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "diff did not terminate on a cyclic schema"
    return result[0]


def test_cyclic_schema_terminates_and_reports_the_change_once() -> None:
    node = obj({"name": {"type": "string"}, "children": {"type": "array", "items": ref("Node")}})
    old = response_doc(ref("Node"), schemas={"Node": node})
    new = edit(old)
    new["components"]["schemas"]["Node"]["properties"]["name"]["maxLength"] = 10
    report = _in_thread(old, new)
    assert [(c.rule, c.pointer, c.via) for c in report.changes] == [
        ("response-constraint-tightened", RESP + "/properties/name/maxLength", ("#/components/schemas/Node",))
    ]


def test_mutually_recursive_schemas_terminate() -> None:
    schemas = {
        "A": obj({"b": ref("B"), "x": {"type": "integer"}}),
        "B": obj({"a": ref("A"), "y": {"type": "integer"}}, "y"),
    }
    old = response_doc(ref("A"), schemas=schemas)
    new = edit(old)
    del new["components"]["schemas"]["B"]["properties"]["y"]
    report = _in_thread(old, new)
    assert [(c.rule, c.pointer, c.via) for c in report.changes] == [
        (
            "response-property-removed",
            RESP + "/properties/b/properties/y",
            ("#/components/schemas/A", "#/components/schemas/B"),
        )
    ]


def test_inlining_or_extracting_a_component_is_not_a_change() -> None:
    inline = response_doc(item_schema())
    extracted = response_doc(ref("Item"), schemas={"Item": item_schema()})
    assert found(inline, extracted) == []
    assert found(extracted, inline) == []


def test_change_when_one_side_is_inlined_is_attributed_to_the_ref_side() -> None:
    inline = response_doc(item_schema())
    extracted = response_doc(ref("Item"), schemas={"Item": item_schema(name={"type": "integer"})})
    [change] = diff_documents(inline, extracted).changes
    assert (change.rule, change.pointer, change.via) == (
        "type-changed",
        RESP + "/properties/name/type",
        (ITEM,),
    )


def test_nullable_reference_as_fastapi_emits_it() -> None:
    schemas = {"Item": item_schema()}
    old = response_doc(obj({"item": ref("Item")}), schemas=schemas)
    new = response_doc(obj({"item": {"anyOf": [ref("Item"), {"type": "null"}]}}), schemas=schemas)
    assert found(old, new) == [("response-nullable-added", RESP + "/properties/item")]


def test_referenced_parameter_is_attributed() -> None:
    def with_limit(maximum: int) -> dict[str, Any]:
        document = doc({"/items": {"get": op(params=[ref("Limit", "parameters")])}})
        document["components"] = {"parameters": {"Limit": param("limit", type="integer", maximum=maximum)}}
        return document

    [change] = diff_documents(with_limit(100), with_limit(10)).changes
    assert (change.rule, change.pointer) == (
        "request-constraint-tightened",
        GET + "/parameters/0/schema/maximum",
    )
    assert change.via == ("#/components/parameters/Limit",)
    assert change.component_pointer == "/components/parameters/Limit/schema/maximum"


def test_referenced_response_is_attributed() -> None:
    def with_problem(fields: dict[str, Any]) -> dict[str, Any]:
        document = doc({"/items": {"get": op(responses={"404": ref("NotFound", "responses")})}})
        document["components"] = {"responses": {"NotFound": ok(obj(fields))["200"]}}
        return document

    old = with_problem({"title": {"type": "string"}, "status": {"type": "integer"}})
    [change] = diff_documents(old, with_problem({"title": {"type": "string"}})).changes
    assert change.rule == "response-property-removed"
    assert change.pointer == GET + "/responses/404/content/application~1json/schema/properties/status"
    assert change.via == ("#/components/responses/NotFound",)


@pytest.mark.parametrize("bad", ["#/components/schemas/Missing", "other.json#/components/schemas/Item"])
def test_unresolvable_reference_is_invalid_input(bad: str) -> None:
    old = response_doc(obj({}))
    new = response_doc({"$ref": bad})
    with pytest.raises(HarnessError, match=r"\$ref") as info:
        diff_documents(old, new)
    assert info.value.exit_code == USAGE
