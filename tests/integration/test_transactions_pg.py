"""Transactions on a real PostgreSQL: atomic requests, clean pooled connections, 409s, and races.

Races are made real, not probable: a separate connection holds a row or table lock while the
concurrent requests are sent, the test waits (bounded) until PostgreSQL shows all of them waiting
on that lock, and only then releases it. PostgreSQL then decides the winners, exactly as under
production concurrency.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.support import PgDb, wait_for
from tests.utils.factories import create_item, create_user

pytestmark = pytest.mark.integration

SINGLE_CONNECTION = {"db_pool_size": 1, "db_max_overflow": 0}

# A deferred constraint trigger fires at COMMIT, after every row of the request (the items and the
# audit event) has been written: the failure is as late in the request as it can be.
FAIL_AT_COMMIT = """
CREATE FUNCTION itest_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected failure at commit, % items written', (SELECT count(*) FROM items);
END $$;
CREATE CONSTRAINT TRIGGER itest_fail_at_commit AFTER INSERT ON items
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION itest_fail_at_commit();
"""
CSV = "name,category,price\nfirst,tools,1.00\nsecond,tools,2.00\nthird,books,3.00\n"


def _csv(text: str = CSV) -> dict[str, Any]:
    return {"files": {"file": ("items.csv", text.encode(), "text/csv")}}


async def _waiting_on_locks(db: PgDb, count: int) -> None:
    async def ready() -> bool:
        rows = await db.backends()
        return sum(1 for r in rows if r["wait_event_type"] == "Lock") >= count

    await wait_for(ready, within=20, what=f"{count} requests waiting on the lock")


async def test_error_mid_request_leaves_no_partial_row(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    settings = pg_settings(pg, **SINGLE_CONNECTION)
    async with app_client(settings, raise_app_exceptions=False) as (_app, client):
        user = await create_user(client)
        await pg.execute(FAIL_AT_COMMIT)
        r = await client.post("/api/v1/files/csv", headers=user.headers, **_csv())
        assert r.status_code == 500, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "injected" not in r.text  # no SQL error text reaches the client
        assert await pg.fetchval("SELECT count(*) FROM items") == 0
        assert await pg.fetchval("SELECT count(*) FROM audit_events") == 0

        # The one pooled connection came back clean: not stuck in an aborted transaction.
        backends = await pg.backends()
        assert [r["state"] for r in backends] == ["idle"]
        await pg.execute("DROP TRIGGER itest_fail_at_commit ON items")
        r = await client.post("/api/v1/files/csv", headers=user.headers, **_csv())
        assert (r.status_code, r.json()["created"]) == (200, 3)
        r = await client.get("/api/v1/items", headers=user.headers, params={"sort": "name"})
        assert [i["name"] for i in r.json()["items"]] == ["first", "second", "third"]
        assert [b["pid"] for b in await pg.backends()] == [b["pid"] for b in backends]  # the same connection


async def test_unique_violation_is_409_and_the_pooled_connection_still_works(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, **SINGLE_CONNECTION)) as (_app, client):
        user = await create_user(client)
        await create_item(client, user, name="unique-name")
        r = await client.post("/api/v1/items", headers=user.headers,
                              json={"name": "unique-name", "category": "tools", "price": 1})
        assert r.status_code == 409
        assert r.json()["title"] == "Conflict"
        assert [b["state"] for b in await pg.backends()] == ["idle"]
        # next request on the same (only) connection
        r = await client.get("/api/v1/items", headers=user.headers)
        assert (r.status_code, r.json()["total"]) == (200, 1)
        r = await client.post("/api/v1/items", headers=user.headers,
                              json={"name": "another-name", "category": "tools", "price": 1})
        assert r.status_code == 201
    assert await pg.fetchval("SELECT count(*) FROM items") == 2


async def test_csv_import_reports_existing_names_and_creates_the_rest(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg)) as (_app, client):
        user = await create_user(client)
        await create_item(client, user, name="second")
        r = await client.post("/api/v1/files/csv", headers=user.headers, **_csv())
        assert r.status_code == 200
        body = r.json()
        assert body["created"] == 2
        assert [e["row"] for e in body["errors"]] == [3]
    assert sorted(r["name"] for r in await pg.fetch("SELECT name FROM items")) == ["first", "second", "third"]
    assert await pg.fetchval("SELECT count(*) FROM audit_events WHERE action = 'items.import_csv'") == 1


@pytest.mark.parametrize("writers", [2, 8])
async def test_concurrent_if_match_updates_exactly_one_wins(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any], writers: int
) -> None:
    async with app_client(pg_settings(pg)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user, name="contended", price=1)
        etag = f'"{item["id"]}.{item["version"]}"'

        blocker: asyncpg.Connection = await pg.connect()
        try:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("SELECT 1 FROM items WHERE id = $1 FOR UPDATE", item["id"])

            async def put(n: int) -> httpx.Response:
                return await client.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": etag},
                                        json={"name": "contended", "category": "tools", "price": 100 + n})

            tasks = [asyncio.create_task(put(n)) for n in range(writers)]
            await _waiting_on_locks(pg, writers)  # every writer is inside its UPDATE, blocked
            await tx.rollback()
            responses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            await blocker.close()

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: writers - 1}
    winner = next(r for r in responses if r.status_code == 200).json()
    row = (await pg.fetch("SELECT version, price FROM items WHERE id = $1", item["id"]))[0]
    assert (row["version"], float(row["price"])) == (2, winner["price"]) == (2, winner["price"])
    assert winner["version"] == 2


async def test_concurrent_creates_of_one_name_give_one_201_and_409s(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    writers = 6
    async with app_client(pg_settings(pg)) as (_app, client):
        user = await create_user(client)
        blocker: asyncpg.Connection = await pg.connect()
        try:
            tx = blocker.transaction()
            await tx.start()
            # Inserts need ROW EXCLUSIVE on items; SHARE mode blocks them all until we let go.
            await blocker.execute("LOCK TABLE items IN SHARE MODE")
            body = {"name": "same-name", "category": "tools", "price": 5}
            tasks = [asyncio.create_task(client.post("/api/v1/items", headers=user.headers, json=body))
                     for _ in range(writers)]
            await _waiting_on_locks(pg, writers)
            await tx.rollback()
            responses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            await blocker.close()
        assert Counter(r.status_code for r in responses) == {201: 1, 409: writers - 1}
        r = await client.get("/api/v1/items", headers=user.headers)
        assert r.json()["total"] == 1
    assert await pg.fetchval("SELECT count(*) FROM items WHERE name = 'same-name'") == 1


async def test_concurrent_requests_with_one_idempotency_key_create_one_item(
    pg: PgDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    writers = 4
    async with app_client(pg_settings(pg)) as (_app, client):
        user = await create_user(client)
        blocker: asyncpg.Connection = await pg.connect()
        try:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE idempotency_records IN SHARE MODE")
            headers = {**user.headers, "Idempotency-Key": "race-key"}
            body = {"name": "paid-once", "category": "tools", "price": 5}
            tasks = [asyncio.create_task(client.post("/api/v1/items", headers=headers, json=body))
                     for _ in range(writers)]
            await _waiting_on_locks(pg, writers)
            await tx.rollback()
            responses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        finally:
            await blocker.close()
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: writers - 1}
        # once the winner is done, the key replays its response
        replay = await client.post("/api/v1/items", headers=headers, json=body)
        winner = next(r for r in responses if r.status_code == 201)
        assert (replay.status_code, replay.json()) == (201, winner.json())
        assert replay.headers["idempotent-replayed"] == "true"
    assert await pg.fetchval("SELECT count(*) FROM items") == 1
