"""First end-to-end slice through items; the detailed suites live beside it."""

import httpx

from tests.utils.factories import UserHandle, create_item


async def test_create_then_read_round_trips(client: httpx.AsyncClient, user: UserHandle) -> None:
    created = await create_item(client, user, name="hammer", price=12.5)
    r = await client.get(f"/api/v1/items/{created['id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["etag"] == f'"{created["id"]}.1"'


async def test_another_users_item_is_not_found(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    created = await create_item(client, user)
    r = await client.get(f"/api/v1/items/{created['id']}", headers=other_user.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
