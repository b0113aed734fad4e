"""JSON serialization of a page of 100 items (``ItemPage.model_dump_json``), the list endpoint's hot path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from reference_app.schemas.items import MAX_PAGE, ItemPage, ItemPublic

pytestmark = pytest.mark.bench


def make_page(n: int = MAX_PAGE) -> ItemPage:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    items = [
        ItemPublic(id=i, name=f"item {i}", description="a description " * 4, category="tools",
                   price=Decimal(f"{i}.99"), owner_id=1, version=1, created_at=now, updated_at=now)
        for i in range(1, n + 1)
    ]
    return ItemPage(items=items, total=1000, limit=n, offset=0)


@pytest.mark.benchmark(group="serialization")
def test_item_page_model_dump_json(benchmark: Any) -> None:
    page = make_page()
    body = benchmark(page.model_dump_json)
    doc = json.loads(body)
    assert len(doc["items"]) == MAX_PAGE == 100
    assert doc["items"][41]["id"] == 42
    assert ItemPage.model_validate_json(body) == page  # round-trips: what is measured is correct output
