"""The cached item read: miss then hit, key scheme, TTL, invalidation on write, owner check on hits."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core import cache as cache_module
from reference_app.core.cache import MemoryCache
from tests.utils.factories import UserHandle, create_item, item_payload

ITEMS = "/api/v1/items"


class FakeClock:
    """Stands in for the cache module's ``time``: only the cache sees it, never the event loop."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


async def test_first_read_misses_then_hits(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}/cached"
    first = await client.get(url, headers=user.headers)
    second = await client.get(url, headers=user.headers)
    assert (first.status_code, first.headers["x-cache"]) == (200, "miss")
    assert (second.status_code, second.headers["x-cache"]) == (200, "hit")
    assert first.json() == second.json() == item
    assert second.headers["etag"] == f'"{item["id"]}.1"'


async def test_cache_key_follows_documented_scheme(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    await client.get(f"{ITEMS}/{item['id']}/cached", headers=user.headers)
    cache: MemoryCache = app.state.cache
    assert list(cache._data) == [f"refapp:test:item:{item['id']}"]
    raw = await cache.get(f"refapp:test:item:{item['id']}")
    assert raw is not None
    assert b'"owner_id":' in raw


async def test_plain_read_never_populates_the_cache(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    await client.get(f"{ITEMS}/{item['id']}", headers=user.headers)
    assert app.state.cache._data == {}


async def test_update_invalidates(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user, name="before")
    url = f"{ITEMS}/{item['id']}"
    await client.get(f"{url}/cached", headers=user.headers)
    await client.put(url, json=item_payload(name="after"), headers=user.headers | {"If-Match": "*"})
    r = await client.get(f"{url}/cached", headers=user.headers)
    assert r.headers["x-cache"] == "miss"
    assert (r.json()["name"], r.json()["version"]) == ("after", 2)
    assert (await client.get(f"{url}/cached", headers=user.headers)).headers["x-cache"] == "hit"


async def test_delete_invalidates(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}"
    await client.get(f"{url}/cached", headers=user.headers)
    assert (await client.delete(url, headers=user.headers)).status_code == 204
    assert app.state.cache._data == {}
    assert (await client.get(f"{url}/cached", headers=user.headers)).status_code == 404


async def test_cached_copy_is_still_owner_checked(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    item = await create_item(client, user)
    url = f"{ITEMS}/{item['id']}/cached"
    await client.get(url, headers=user.headers)  # now cached
    r = await client.get(url, headers=other_user.headers)
    assert r.status_code == 404


async def test_entry_expires_after_ttl(
    make_settings: object, client_for: object, clock: FakeClock
) -> None:
    from reference_app.main import create_app

    app = create_app(make_settings(cache_ttl_s=5))  # type: ignore[operator]
    async with client_for(app) as c:  # type: ignore[operator]
        from tests.utils.factories import create_user

        u = await create_user(c)
        item = await create_item(c, u)
        url = f"{ITEMS}/{item['id']}/cached"
        assert (await c.get(url, headers=u.headers)).headers["x-cache"] == "miss"
        clock.now += 4.9
        assert (await c.get(url, headers=u.headers)).headers["x-cache"] == "hit"
        clock.now += 0.2
        assert (await c.get(url, headers=u.headers)).headers["x-cache"] == "miss"


async def test_corrupt_entry_is_a_miss_and_is_repaired(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    item = await create_item(client, user)
    key = f"refapp:test:item:{item['id']}"
    await app.state.cache.set(key, b"{not json", 60)
    r = await client.get(f"{ITEMS}/{item['id']}/cached", headers=user.headers)
    assert (r.status_code, r.headers["x-cache"]) == (200, "miss")
    assert r.json() == item
    assert (await client.get(f"{ITEMS}/{item['id']}/cached", headers=user.headers)).headers["x-cache"] == "hit"


async def test_cache_outcomes_are_counted(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    for _ in range(3):
        await client.get(f"{ITEMS}/{item['id']}/cached", headers=user.headers)
    registry = app.state.metrics.registry
    assert registry.get_sample_value("cache_lookups_total", {"outcome": "miss"}) == 1
    assert registry.get_sample_value("cache_lookups_total", {"outcome": "hit"}) == 2


async def test_missing_item_is_not_cached(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    assert (await client.get(f"{ITEMS}/4242/cached", headers=user.headers)).status_code == 404
    assert app.state.cache._data == {}
