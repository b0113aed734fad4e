"""v2 item read: a changed shape (money object, owner object, links) while v1 keeps its shape."""

from __future__ import annotations

import httpx

from tests.utils.factories import UserHandle, create_item


async def test_v2_shape(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user, name="lamp", price=12.5, description="bright", category="home")
    r = await client.get(f"/api/v2/items/{item['id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == {
        "id": item["id"], "name": "lamp", "description": "bright", "category": "home",
        "price": {"amount": "12.50", "currency": "EUR"},
        "owner": {"id": user.id},
        "version": 1,
        "links": {"self": f"/api/v2/items/{item['id']}"},
    }


async def test_v1_shape_is_unchanged(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user, price=12.5)
    v1 = (await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)).json()
    assert v1["price"] == 12.5
    assert v1["owner_id"] == user.id
    assert set(v1) == {"id", "name", "description", "category", "price", "owner_id", "version", "created_at",
                       "updated_at"}


async def test_v2_reflects_updates(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    await client.put(f"/api/v1/items/{item['id']}", json={"name": "n", "category": "c", "price": 0.1},
                     headers=user.headers | {"If-Match": "*"})
    body = (await client.get(f"/api/v2/items/{item['id']}", headers=user.headers)).json()
    assert body["price"] == {"amount": "0.10", "currency": "EUR"}
    assert body["version"] == 2


async def test_v2_is_owner_scoped_and_authenticated(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    item = await create_item(client, user)
    assert (await client.get(f"/api/v2/items/{item['id']}", headers=other_user.headers)).status_code == 404
    assert (await client.get(f"/api/v2/items/{item['id']}")).status_code == 401
