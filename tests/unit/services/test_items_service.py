"""Item service helpers: ETags, If-Match parsing, events; the cached read's owner check."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from reference_app.core.cache import MemoryCache
from reference_app.core.errors import NotFound
from reference_app.schemas.items import ItemPublic
from reference_app.services import items as item_service


def _item(**overrides: object) -> ItemPublic:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {"id": 3, "name": "n", "description": None, "category": "c",
                                 "price": Decimal("1.50"), "owner_id": 9, "version": 4,
                                 "created_at": now, "updated_at": now}
    return ItemPublic.model_validate(values | overrides)


def test_etag_is_id_and_version() -> None:
    assert item_service.etag(_item()) == '"3.4"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("*", None),
        (' * ', None),
        ('"3.4"', frozenset({4})),
        ('"3.4", "3.5"', frozenset({4, 5})),
        ('"9.4", "3.2"', frozenset({2})),
        ('"9.4"', frozenset()),
        ('W/"3.4"', frozenset()),
        ("3.4", frozenset()),
        ('"3.x"', frozenset()),
        ('"3"', frozenset()),
        ("", frozenset()),
    ],
)
def test_parse_if_match(header: str, expected: frozenset[int] | None) -> None:
    assert item_service.parse_if_match(header, 3) == expected


def test_update_event_carries_the_item_as_json() -> None:
    event = item_service.event("item.updated", _item(), 3)
    assert event["event"] == "item.updated"
    assert event["item_id"] == 3
    assert event["item"]["price"] == 1.5
    assert event["item"]["created_at"] == "2026-01-01T00:00:00Z"


def test_delete_event_has_no_item() -> None:
    assert item_service.event("item.deleted", None, 3) == {"event": "item.deleted", "item_id": 3}


def _no_session() -> Any:
    raise AssertionError("a cache hit opened a database session")


async def test_cached_hit_for_another_owner_is_not_found() -> None:
    cache = MemoryCache()
    body = _item().model_dump_json().encode()
    await cache.set("p:item:3", item_service.CachedBody(9, '"3.4"', body).encode(), 60)
    with pytest.raises(NotFound):
        await item_service.read_cached(_no_session, cache, "p", 60, 1, 3)
    entry, hit = await item_service.read_cached(_no_session, cache, "p", 60, 9, 3)
    assert hit is True
    assert (entry.body, entry.etag) == (body, '"3.4"')  # the stored bytes, served as they are


@pytest.mark.parametrize("raw", [
    b"{not json", b"", b"v1 9 \"3.4\"", b"v1 9 \"3.4\"\n", b"v1 x \"3.4\"\n{}", b"v2 9 \"3.4\"\n{}",
    b'{"id": 3, "owner_id": 9}',  # an entry of the older format (the bare JSON body) in a shared Redis
])
def test_anything_but_a_whole_entry_decodes_to_none(raw: bytes) -> None:
    assert item_service.CachedBody.decode(raw) is None


def test_entry_round_trip() -> None:
    entry = item_service.CachedBody(12, '"7.2"', b'{"a":"x\ny"}')
    assert item_service.CachedBody.decode(entry.encode()) == entry


async def test_invalidate_deletes_the_documented_key() -> None:
    cache = MemoryCache()
    await cache.set("refapp:dev:item:3", b"x", 60)
    await item_service.invalidate(cache, "refapp:dev", 3)
    assert await cache.get("refapp:dev:item:3") is None
