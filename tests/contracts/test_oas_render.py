"""Text, Markdown and JSON reports."""

from __future__ import annotations

import json

from contracts.allowlist import Entry, apply_allowlist
from contracts.diff import diff_documents
from contracts.model import DiffReport
from contracts.render import render
from tests.contracts.openapi_docs import RESP, edit, item_schema, ref, response_doc


def _report() -> DiffReport:
    old = response_doc(ref("Item"), schemas={"Item": item_schema()})
    new = edit(old)
    props = new["components"]["schemas"]["Item"]["properties"]
    del props["category"]
    props["price"] = {"type": "string"}
    props["sku"] = {"type": "integer"}  # not the same shape as category: no "renamed?" hint
    report = diff_documents(old, new)
    accept = Entry("type-changed", "/components/schemas/Item/properties/price/*", "money as string, agreed")
    return apply_allowlist(report, [accept])


def test_markdown_has_a_table_with_breaking_rows_first() -> None:
    text = render(_report(), "markdown", title="Contract")
    lines = text.splitlines()
    assert lines[0] == "### Contract: breaking changes found"
    assert "**1 breaking, 0 warning, 1 accepted, 1 info**" in lines
    header = lines.index("| Severity | Rule | Operation | Change | Pointer |")
    rows = lines[header + 2 :]
    assert rows[0].startswith("| **breaking** | `response-property-removed` | GET /items |")
    assert "via #/components/schemas/Item at /components/schemas/Item/properties/category" in rows[0]
    assert rows[1].startswith("| accepted | `type-changed` |")
    assert "money as string, agreed" in rows[1]
    assert rows[2].startswith("| info | `response-property-added` |")


def test_markdown_without_changes() -> None:
    document = response_doc(item_schema())
    text = render(diff_documents(document, document), "markdown")
    assert "no unaccepted breaking changes" in text
    assert "No API changes." in text


def test_json_parses_and_carries_every_field() -> None:
    payload = json.loads(render(_report(), "json"))
    assert payload["failed"] is True
    assert payload["summary"] == {
        "breaking": 1,
        "warning": 0,
        "info": 1,
        "accepted": 1,
        "non_breaking": 1,
        "total": 3,
    }
    removed = payload["changes"][0]
    assert removed == {
        "rule": "response-property-removed",
        "severity": "breaking",
        "status": "breaking",
        "breaking": True,
        "policy": None,
        "pointer": RESP + "/properties/category",
        "reason": "response field 'category' was removed",
        "via": ["#/components/schemas/Item"],
        "component_pointer": "/components/schemas/Item/properties/category",
        "accepted_reason": None,
        "operation": "GET /items",
    }


def test_text_names_rule_pointer_and_component() -> None:
    text = render(_report(), "text")
    assert text.startswith("OpenAPI changes: 1 breaking, 0 warning, 1 accepted, 1 info\n")
    assert "BREAKING  response-property-removed  [GET /items]" in text
    assert f"  at  {RESP}/properties/category" in text
    assert "  via #/components/schemas/Item at /components/schemas/Item/properties/category" in text
    assert "  accepted: money as string, agreed" in text
