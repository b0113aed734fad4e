"""Items: owner-scoped CRUD, filtering in SQL, optimistic concurrency, read-through cache.

Ownership is part of every query, so another user's item is indistinguishable from a missing one.
Updates are a single conditional UPDATE on (id, owner, version): of two concurrent writers
exactly one matches, with no lock held across the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.cache import Cache, item_key
from reference_app.core.errors import Conflict, NotFound, PreconditionFailed
from reference_app.models import Item, utcnow
from reference_app.schemas.items import ItemCreate, ItemFilter, ItemPublic, ItemReplace

DUPLICATE_NAME = "You already have an item with this name."


def etag(item: Item | ItemPublic) -> str:
    return f'"{item.id}.{item.version}"'


def parse_if_match(header: str, item_id: int) -> frozenset[int] | None:
    """The versions an If-Match names (any of them may match, RFC 9110 13.1.1), None for ``*``.

    An empty set can never match (412): malformed tags, weak tags and other items' tags name nothing.
    """
    value = header.strip()
    if value == "*":
        return None
    versions: set[int] = set()
    for candidate in value.split(","):
        tag = candidate.strip()
        if tag.startswith('"') and tag.endswith('"'):
            ident, _, version = tag[1:-1].partition(".")
            if ident == str(item_id) and version.isdigit():
                versions.add(int(version))
    return frozenset(versions)


def _owned(owner_id: int, item_id: int) -> Select[Item]:
    return select(Item).where(Item.id == item_id, Item.owner_id == owner_id)


async def get_owned(session: AsyncSession, owner_id: int, item_id: int) -> Item:
    item = await session.scalar(_owned(owner_id, item_id))
    if item is None:
        raise NotFound("No such item.")
    return item


def _name_order(session: AsyncSession) -> ColumnElement[Any]:
    # Byte order on every backend, so SQLite and PostgreSQL page through names identically.
    bind = session.get_bind()
    return Item.name.collate("C") if bind.dialect.name == "postgresql" else Item.name.expression


async def list_items(session: AsyncSession, owner_id: int, f: ItemFilter) -> tuple[list[Item], int]:
    conditions = [Item.owner_id == owner_id]
    if f.category is not None:
        conditions.append(Item.category == f.category)
    if f.min_price is not None:
        conditions.append(Item.price >= f.min_price)
    if f.max_price is not None:
        conditions.append(Item.price <= f.max_price)
    total = await session.scalar(select(func.count()).select_from(Item).where(*conditions)) or 0
    column: ColumnElement[Any] = {
        "price": Item.price.expression, "name": _name_order(session), "id": Item.id.expression
    }[f.sort]
    primary = column.desc() if f.order == "desc" else column.asc()
    tiebreak = Item.id.desc() if f.order == "desc" else Item.id.asc()
    rows = await session.scalars(
        select(Item).where(*conditions).order_by(primary, tiebreak).limit(f.limit).offset(f.offset)
    )
    return list(rows), total


async def create(session: AsyncSession, owner_id: int, data: ItemCreate) -> Item:
    item = Item(owner_id=owner_id, **data.model_dump())
    session.add(item)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(DUPLICATE_NAME) from exc
    return item


async def replace(
    session: AsyncSession, owner_id: int, item_id: int, expected_versions: Collection[int] | None,
    data: ItemReplace,
) -> Item:
    """Replace if the current version is one of ``expected_versions`` (None: any version)."""
    conditions = [Item.id == item_id, Item.owner_id == owner_id]
    if expected_versions is not None:
        conditions.append(Item.version.in_(sorted(expected_versions)))
    try:
        result = await session.execute(
            update(Item)
            .where(*conditions)
            .values(**data.model_dump(), version=Item.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        matched = result.rowcount  # type: ignore[attr-defined]  # CursorResult for UPDATE
        if matched == 0:
            await session.rollback()
            await get_owned(session, owner_id, item_id)  # 404 if it is not (or no longer) ours
            raise PreconditionFailed("The item has changed since you read it; fetch it again.")
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(DUPLICATE_NAME) from exc
    item = await session.scalar(_owned(owner_id, item_id).execution_options(populate_existing=True))
    if item is None:  # deleted between our commit and this read
        raise NotFound("No such item.")
    return item


async def delete(session: AsyncSession, owner_id: int, item_id: int) -> None:
    item = await get_owned(session, owner_id, item_id)
    await session.delete(item)
    await session.commit()


@dataclass(frozen=True, slots=True)
class CachedBody:
    """An item's response as it goes on the wire, plus what a hit must check and send with it."""

    owner_id: int
    etag: str
    body: bytes

    def encode(self) -> bytes:
        return b"%s %d %s\n%s" % (CACHE_FORMAT, self.owner_id, self.etag.encode(), self.body)

    @classmethod
    def decode(cls, raw: bytes) -> CachedBody | None:
        """None for anything that is not an entry of this format (corrupt, truncated, an older format)."""
        head, sep, body = raw.partition(b"\n")
        parts = head.split(b" ")
        if not sep or len(parts) != 3 or parts[0] != CACHE_FORMAT or not parts[1].isdigit() or not body:
            return None
        return cls(int(parts[1]), parts[2].decode("ascii", "replace"), body)


#: Entries are ``v1 <owner id> <etag>\n<the response body>``: the body is served as stored, so a hit
#: costs no validation and no serialization; the owner is checked without parsing the JSON.
CACHE_FORMAT = b"v1"


async def read_cached(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    cache: Cache, prefix: str, ttl_s: int, owner_id: int, item_id: int,
) -> tuple[CachedBody, bool]:
    """(entry, hit). A hit is checked for its owner like a database read, and opens no session."""
    key = item_key(prefix, item_id)
    raw = await cache.get(key)
    if raw is not None:
        cached = CachedBody.decode(raw)  # a corrupt entry is a miss, and is overwritten below
        if cached is not None:
            if cached.owner_id != owner_id:
                raise NotFound("No such item.")
            return cached, True
    async with sessions() as session:
        item = ItemPublic.model_validate(await get_owned(session, owner_id, item_id))
    entry = CachedBody(owner_id, etag(item), item.model_dump_json().encode())
    await cache.set(key, entry.encode(), ttl_s)
    return entry, False


async def invalidate(cache: Cache, prefix: str, item_id: int) -> None:
    await cache.delete(item_key(prefix, item_id))


def event(kind: str, item: ItemPublic | None, item_id: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"event": kind, "item_id": item_id}
    if item is not None:
        payload["item"] = json.loads(item.model_dump_json())
    return payload
