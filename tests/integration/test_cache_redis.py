"""The read-through item cache on a real Redis: miss/hit, invalidation, TTL expiry, key scheme.

The tests look into Redis with their own client (redis-py) to see what the app stored, and
change rows behind the app's back to tell a cache hit from a database read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from reference_app.services.items import CachedBody
from tests.integration.support import PgDb, RedisDb, wait_for
from tests.utils.factories import create_item, create_user

pytestmark = pytest.mark.integration


def key(item_id: int) -> str:
    return f"refapp:test:item:{item_id}"  # the documented scheme refapp:{env}:item:{id}, env=test


async def test_miss_then_hit_under_the_documented_key(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db, cache_ttl_s=30)) as (app, client):
        assert app.state.cache.backend == "redis"
        user = await create_user(client)
        item = await create_item(client, user, name="cached-thing", price=3)
        assert redis_db.client.keys("refapp:*") == []

        first = await client.get(f"/api/v1/items/{item['id']}/cached", headers=user.headers)
        assert (first.status_code, first.headers["x-cache"]) == (200, "miss")
        assert redis_db.client.keys("refapp:*") == [key(item["id"]).encode()]
        entry = CachedBody.decode(redis_db.client.get(key(item["id"])) or b"")
        assert entry is not None
        stored = json.loads(entry.body)  # the response body as it went out, with its owner and ETag
        assert (stored["name"], stored["owner_id"]) == ("cached-thing", item["owner_id"])
        assert (entry.owner_id, entry.etag) == (item["owner_id"], first.headers["etag"])
        assert 0 < redis_db.client.ttl(key(item["id"])) <= 30

        second = await client.get(f"/api/v1/items/{item['id']}/cached", headers=user.headers)
        assert (second.status_code, second.headers["x-cache"]) == (200, "hit")
        assert second.json() == first.json()
        assert second.headers["etag"] == first.headers["etag"]


async def test_a_hit_is_served_from_redis_not_the_database(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user, name="original", price=3)
        await client.get(f"/api/v1/items/{item['id']}/cached", headers=user.headers)
        await pg.execute("UPDATE items SET name = 'changed behind the app' WHERE id = $1", item["id"])

        cached = await client.get(f"/api/v1/items/{item['id']}/cached", headers=user.headers)
        assert (cached.headers["x-cache"], cached.json()["name"]) == ("hit", "original")
        direct = await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)
        assert direct.json()["name"] == "changed behind the app"


async def test_update_invalidates_the_entry(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user, name="before", price=3)
        url = f"/api/v1/items/{item['id']}/cached"
        await client.get(url, headers=user.headers)
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "hit"

        r = await client.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": "*"},
                             json={"name": "after", "category": "tools", "price": 4})
        assert r.status_code == 200
        assert redis_db.client.exists(key(item["id"])) == 0

        miss = await client.get(url, headers=user.headers)
        assert (miss.headers["x-cache"], miss.json()["name"], miss.json()["version"]) == ("miss", "after", 2)
        hit = await client.get(url, headers=user.headers)
        assert (hit.headers["x-cache"], hit.json()["name"]) == ("hit", "after")


async def test_delete_invalidates_the_entry(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user)
        url = f"/api/v1/items/{item['id']}/cached"
        await client.get(url, headers=user.headers)
        assert redis_db.client.exists(key(item["id"])) == 1

        assert (await client.delete(f"/api/v1/items/{item['id']}", headers=user.headers)).status_code == 204
        assert redis_db.client.exists(key(item["id"])) == 0
        gone = await client.get(url, headers=user.headers)
        assert gone.status_code == 404
        assert redis_db.client.exists(key(item["id"])) == 0  # a 404 is not cached


async def test_entries_expire_after_the_ttl(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db, cache_ttl_s=1)) as (_app, client):
        user = await create_user(client)
        item = await create_item(client, user)
        url = f"/api/v1/items/{item['id']}/cached"
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "miss"
        assert redis_db.client.pttl(key(item["id"])) <= 1000

        async def expired() -> bool:
            return redis_db.client.exists(key(item["id"])) == 0

        await wait_for(expired, within=10, interval=0.1, what="the cache entry to expire")
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "miss"
        assert (await client.get(url, headers=user.headers)).headers["x-cache"] == "hit"


async def test_a_cached_entry_is_not_served_to_another_user(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    async with app_client(pg_settings(pg, redis_db)) as (_app, client):
        owner, stranger = await create_user(client), await create_user(client)
        item = await create_item(client, owner)
        url = f"/api/v1/items/{item['id']}/cached"
        await client.get(url, headers=owner.headers)
        assert redis_db.client.exists(key(item["id"])) == 1
        assert (await client.get(url, headers=stranger.headers)).status_code == 404


async def test_instances_share_the_cache_and_its_invalidation(
    pg: PgDb, redis_db: RedisDb, pg_settings: Callable[..., Any], app_client: Callable[..., Any]
) -> None:
    """Two app instances (as two server processes would be) see one cache."""
    settings = pg_settings(pg, redis_db)
    async with app_client(settings) as (_a, one), app_client(settings) as (_b, two):
        user = await create_user(one)
        item = await create_item(one, user, name="shared")
        url = f"/api/v1/items/{item['id']}/cached"
        assert (await one.get(url, headers=user.headers)).headers["x-cache"] == "miss"
        assert (await two.get(url, headers=user.headers)).headers["x-cache"] == "hit"
        r = await two.put(f"/api/v1/items/{item['id']}", headers={**user.headers, "If-Match": "*"},
                          json={"name": "shared-2", "category": "tools", "price": 9})
        assert r.status_code == 200
        fresh = await one.get(url, headers=user.headers)
        assert (fresh.headers["x-cache"], fresh.json()["name"]) == ("miss", "shared-2")
    await asyncio.sleep(0)
