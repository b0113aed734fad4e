"""Postgres/SQLite parity: every CRUD, filter, sort and pagination path answers the same on both.

Two apps, one on in-memory SQLite (what the unit suite runs on) and one on PostgreSQL, get the
same data through the same API calls, in the same order; then the same requests must give the
same status and the same JSON. Only wall-clock fields (``created_at``, ``updated_at``) and
``request_id`` are ignored; both databases start empty, so even ids agree for the seeded data.
The catalogue is seeded once per module and the list tests only read it; the CRUD tests get a
fresh pair each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from reference_app.main import create_app
from tests.integration.support import PgDb, PgServer, run_async
from tests.utils.app_fixtures import build_test_settings, open_client
from tests.utils.factories import create_user, parity_items

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

WALL_CLOCK = frozenset({"created_at", "updated_at", "request_id"})
#: For write paths, ids can differ: PostgreSQL consumes a sequence value on a failed insert, SQLite doesn't.
WITH_IDS = WALL_CLOCK | {"id", "instance", "links", "item_id"}
OWNER = "parity-owner@example.com"
OTHER = "parity-other@example.com"


def strip(value: Any, drop: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: strip(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [strip(v, drop) for v in value]
    return value


class Pair:
    """The same users on a SQLite app and a PostgreSQL app.

    ``same`` sends one request to each and asserts the answers agree. URLs and header values may
    name per-backend values (``{A}`` for an item id, ``{etag_A}`` for its ETag), filled in from
    ``vars`` so each app is asked about its own rows.
    """

    BACKENDS = ("sqlite", "postgres")

    def __init__(self, sqlite: httpx.AsyncClient, pg: httpx.AsyncClient) -> None:
        self.clients = {"sqlite": sqlite, "postgres": pg}
        self.auth: dict[tuple[str, str], dict[str, str]] = {}
        self.vars: dict[str, dict[str, Any]] = {b: {} for b in self.BACKENDS}

    async def register(self, email: str) -> None:
        for backend, client in self.clients.items():
            self.auth[(backend, email)] = (await create_user(client, email=email)).headers

    async def send(self, method: str, url: str, *, as_user: str = OWNER, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> dict[str, httpx.Response]:
        out = {}
        for backend, client in self.clients.items():
            v = self.vars[backend]
            hdrs = {**self.auth[(backend, as_user)], **{k: h.format(**v) for k, h in (headers or {}).items()}}
            out[backend] = await client.request(method, url.format(**v), headers=hdrs, **kwargs)
        return out

    async def same(self, method: str, url: str, *, drop: frozenset[str] = WALL_CLOCK, save: str | None = None,
                   **kwargs: Any) -> tuple[int, Any]:
        """Both apps answer with equal status, JSON and (versioned) ETag; ``save`` remembers id and ETag."""
        r = await self.send(method, url, **kwargs)
        s, p = r["sqlite"], r["postgres"]
        body_s = strip(s.json(), drop) if s.content else None
        body_p = strip(p.json(), drop) if p.content else None
        assert (p.status_code, body_p) == (s.status_code, body_s), f"{method} {url}: postgres != sqlite"
        assert _etag_version(p) == _etag_version(s)
        for header in ("x-cache", "idempotent-replayed", "content-type"):
            assert p.headers.get(header) == s.headers.get(header), header
        if save:
            for backend, resp in r.items():
                self.vars[backend][save] = resp.json()["id"]
                self.vars[backend][f"etag_{save}"] = resp.headers["etag"]
        return p.status_code, body_p


def _etag_version(resp: httpx.Response) -> str | None:
    tag = resp.headers.get("etag")
    return None if tag is None else tag.strip('"').partition(".")[2]


async def _open_pair(tmp: Path, db: PgDb) -> AsyncIterator[Pair]:
    sqlite_app = create_app(build_test_settings(tmp / "sqlite"))
    pg_app = create_app(build_test_settings(tmp / "postgres", database_url=db.url))
    sqlite_clients, pg_clients = open_client(sqlite_app), open_client(pg_app)
    async with aclosing(sqlite_clients), aclosing(pg_clients):
        async for sqlite_client in sqlite_clients:
            async for pg_client in pg_clients:
                pair = Pair(sqlite_client, pg_client)
                await pair.register(OWNER)
                await pair.register(OTHER)
                yield pair


@pytest.fixture(scope="module")
def catalogue_db(pg_server: PgServer) -> Iterator[PgDb]:
    db = run_async(pg_server.create_database)
    try:
        yield db
    finally:
        run_async(pg_server.drop_database, db.name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def catalogue(catalogue_db: PgDb, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    """Both apps with the parity catalogue (and one item of another user, who must never show up)."""
    async for pair in _open_pair(tmp_path_factory.mktemp("parity"), catalogue_db):
        for spec in parity_items():
            await pair.same("POST", "/api/v1/items", json=spec)
        await pair.same("POST", "/api/v1/items", as_user=OTHER, json=parity_items()[0])
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(pg: PgDb, tmp_path: Path) -> AsyncIterator[Pair]:
    async for pair in _open_pair(tmp_path, pg):
        yield pair


LIST_QUERIES = {
    "default": {},
    "category-tools": {"category": "tools"},
    "category-books": {"category": "books"},
    "category-none": {"category": "no-such-category"},
    "min-price": {"min_price": "10"},
    "max-price": {"max_price": "10"},
    "price-range": {"min_price": "10", "max_price": "42"},
    "price-cents-edge": {"min_price": "12.35", "max_price": "12.36"},
    "price-zero": {"max_price": "0"},
    "category-and-range": {"category": "tools", "min_price": "5", "max_price": "100"},
    "sort-price-asc": {"sort": "price", "limit": "100"},
    "sort-price-desc": {"sort": "price", "order": "desc", "limit": "100"},
    "sort-name-asc": {"sort": "name", "limit": "100"},
    "sort-name-desc": {"sort": "name", "order": "desc", "limit": "100"},
    "sort-id-desc": {"sort": "id", "order": "desc"},
    "page-name-2": {"sort": "name", "limit": "5", "offset": "5"},
    "page-filtered": {"category": "tools", "sort": "price", "order": "desc", "limit": "3", "offset": "1"},
    "page-last": {"limit": "1", "offset": "24"},
    "page-past-end": {"limit": "10", "offset": "100"},
}


@pytest.mark.parametrize("query", LIST_QUERIES.values(), ids=LIST_QUERIES.keys())
async def test_list_filters_sorts_and_pages_agree(catalogue: Pair, query: dict[str, str]) -> None:
    status, body = await catalogue.same("GET", "/api/v1/items", params=query)
    assert status == 200
    assert body["total"] >= len(body["items"])


async def test_list_filters_select_what_they_say(catalogue: Pair) -> None:
    _, body = await catalogue.same("GET", "/api/v1/items", params={"category": "tools", "min_price": "5",
                                                                   "max_price": "100", "limit": "100"})
    assert body["items"], "the filter matched nothing; the catalogue no longer exercises it"
    assert all(i["category"] == "tools" and 5 <= i["price"] <= 100 for i in body["items"])
    assert body["total"] == len(body["items"])


async def test_name_sort_is_byte_order_on_both(catalogue: Pair) -> None:
    _, body = await catalogue.same("GET", "/api/v1/items", params={"sort": "name", "limit": "100"})
    names = [i["name"] for i in body["items"]]
    assert names == sorted((s["name"] for s in parity_items()), key=str.encode)


@pytest.mark.parametrize("sort", ["price", "name", "id"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_walking_every_page_agrees_and_covers_each_item_once(catalogue: Pair, sort: str, order: str) -> None:
    _, full = await catalogue.same("GET", "/api/v1/items", params={"sort": sort, "order": order, "limit": "100"})
    walked: list[Any] = []
    offset = 0
    for _ in range(50):  # bounded: the catalogue has 25 items
        _, page = await catalogue.same("GET", "/api/v1/items",
                                       params={"sort": sort, "order": order, "limit": "4", "offset": str(offset)})
        if not page["items"]:
            break
        walked += page["items"]
        offset += 4
    assert walked == full["items"]
    assert len({i["id"] for i in walked}) == full["total"] == len(parity_items())


INVALID_QUERIES = {
    "limit-zero": {"limit": "0"},
    "limit-too-big": {"limit": "101"},
    "bad-sort": {"sort": "owner_id"},
    "bad-order": {"order": "sideways"},
    "negative-price": {"min_price": "-1"},
    "bad-category": {"category": "Not Valid"},
}


@pytest.mark.parametrize("query", INVALID_QUERIES.values(), ids=INVALID_QUERIES.keys())
async def test_invalid_list_queries_are_refused_alike(catalogue: Pair, query: dict[str, str]) -> None:
    status, body = await catalogue.same("GET", "/api/v1/items", params=query)
    assert status == 422
    assert body["status"] == 422


async def test_item_crud_lifecycle_agrees(fresh: Pair) -> None:
    p = fresh
    payload = {"name": "Lamp", "category": "home", "price": 12.5, "description": "brass"}
    assert (await p.same("POST", "/api/v1/items", json=payload, save="A", drop=WITH_IDS))[0] == 201
    assert (await p.same("GET", "/api/v1/items/{A}", drop=WITH_IDS))[0] == 200
    assert (await p.same("GET", "/api/v2/items/{A}", drop=WITH_IDS))[0] == 200
    # the cached twin (in-memory cache on both here): a miss, then a hit
    await p.same("GET", "/api/v1/items/{A}/cached", drop=WITH_IDS)
    await p.same("GET", "/api/v1/items/{A}/cached", drop=WITH_IDS)

    new = {"name": "Lamp", "category": "home", "price": 14.99, "description": None}
    assert (await p.same("PUT", "/api/v1/items/{A}", json=new, drop=WITH_IDS))[0] == 428
    assert (await p.same("PUT", "/api/v1/items/{A}", json=new, headers={"If-Match": '"{A}.99"'},
                         drop=WITH_IDS))[0] == 412
    status, body = await p.same("PUT", "/api/v1/items/{A}", json=new, headers={"If-Match": "{etag_A}"},
                                drop=WITH_IDS, save="A")
    assert (status, body["version"], body["price"]) == (200, 2, 14.99)
    assert (await p.same("PUT", "/api/v1/items/{A}", json=new | {"price": 1}, headers={"If-Match": "*"},
                         drop=WITH_IDS))[0] == 200
    assert (await p.same("PUT", "/api/v1/items/{A}", json=new | {"bogus": 1}, headers={"If-Match": "*"},
                         drop=WITH_IDS))[0] == 422

    # someone else's item does not exist for them
    for method in ("GET", "PUT", "DELETE"):
        kwargs: dict[str, Any] = {"json": new, "headers": {"If-Match": "*"}} if method == "PUT" else {}
        assert (await p.same(method, "/api/v1/items/{A}", as_user=OTHER, drop=WITH_IDS, **kwargs))[0] == 404

    assert (await p.same("DELETE", "/api/v1/items/{A}", drop=WITH_IDS))[0] == 204
    assert (await p.same("GET", "/api/v1/items/{A}", drop=WITH_IDS))[0] == 404
    assert (await p.same("DELETE", "/api/v1/items/{A}", drop=WITH_IDS))[0] == 404
    _, page = await p.same("GET", "/api/v1/items", drop=WITH_IDS)
    assert page["total"] == 0


async def test_conflicts_agree(fresh: Pair) -> None:
    p = fresh
    await p.same("POST", "/api/v1/items", json={"name": "one", "category": "c", "price": 1}, save="A", drop=WITH_IDS)
    await p.same("POST", "/api/v1/items", json={"name": "two", "category": "c", "price": 2}, save="B", drop=WITH_IDS)
    status, body = await p.same("POST", "/api/v1/items", json={"name": "one", "category": "d", "price": 3},
                                drop=WITH_IDS)
    assert (status, body["title"]) == (409, "Conflict")
    # renaming onto an existing name is the same conflict, and changes nothing
    assert (await p.same("PUT", "/api/v1/items/{B}", json={"name": "one", "category": "c", "price": 2},
                         headers={"If-Match": "{etag_B}"}, drop=WITH_IDS))[0] == 409
    _, b = await p.same("GET", "/api/v1/items/{B}", drop=WITH_IDS)
    assert (b["name"], b["version"]) == ("two", 1)
    # another owner may use the same name
    assert (await p.same("POST", "/api/v1/items", as_user=OTHER, json={"name": "one", "category": "c", "price": 1},
                         drop=WITH_IDS))[0] == 201
    _, page = await p.same("GET", "/api/v1/items", params={"sort": "name"}, drop=WITH_IDS)
    assert [i["name"] for i in page["items"]] == ["one", "two"]


async def test_idempotent_create_agrees(fresh: Pair) -> None:
    p = fresh
    body = {"name": "once", "category": "c", "price": 3}
    key = {"Idempotency-Key": "parity-key-1"}
    first = await p.same("POST", "/api/v1/items", json=body, headers=key, drop=WITH_IDS)
    replay = await p.same("POST", "/api/v1/items", json=body, headers=key, drop=WITH_IDS)
    assert first == replay
    assert first[0] == 201
    # the same key with another body is refused, alike
    assert (await p.same("POST", "/api/v1/items", json=body | {"price": 4}, headers=key, drop=WITH_IDS))[0] == 422
    _, page = await p.same("GET", "/api/v1/items", drop=WITH_IDS)
    assert page["total"] == 1
