"""The real reference app's schema: exportable, deterministic, independent of REFAPP_* variables."""

from __future__ import annotations

import pytest

from contracts import live
from contracts.diff import diff_documents
from harness.target import load_target


def test_live_schema_of_the_reference_app_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    target = load_target()  # this repository's [tool.harness]: the reference app
    first = live.live_schema(target)
    assert first["openapi"].startswith("3.1")
    operation_ids = {op.get("operationId") for item in first["paths"].values() for op in item.values()}
    assert {"items_list", "items_create", "items_read_v2", "health_live", "lab_hello"} <= operation_ids

    # Whoever's shell runs the export must not leak into the contract.
    monkeypatch.setenv("REFAPP_DOCS_ENABLED", "false")
    monkeypatch.setenv("REFAPP_LAB_LIMIT", "1/second")
    monkeypatch.setenv("REFAPP_MIDDLEWARE", "bare")
    second = live.live_schema(target)
    assert live.serialize(second) == live.serialize(first)
    assert diff_documents(first, second).changes == []
