"""API keys: shown once, stored hashed, scoped (read = safe methods only), revocable, bearer-managed."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reference_app.api.v1.api_keys import MAX_KEYS_PER_USER
from reference_app.models import ApiKey
from tests.utils.factories import UserHandle, api_key_headers, create_api_key, item_payload, set_user_active

KEYS = "/api/v1/api-keys"


async def test_create_returns_plaintext_once(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(KEYS, json={"name": "ci", "scopes": ["write", "read"]}, headers=user.headers)
    assert r.status_code == 201
    body = r.json()
    assert body["key"].startswith("rk_")
    assert body["prefix"] == body["key"][:10]
    assert body["scopes"] == ["read", "write"]
    assert body["revoked_at"] is None
    listed = (await client.get(KEYS, headers=user.headers)).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0]
    assert body["key"] not in str(listed)


async def test_key_is_stored_as_sha256_only(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    created = await create_api_key(client, user, ["read"])
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
    assert row is not None
    assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in (row.key_hash, row.prefix, row.name)


@pytest.mark.parametrize(
    "payload", [{"name": "x", "scopes": ["admin"]}, {"name": "x", "scopes": []}, {"name": "", "scopes": ["read"]},
                {"name": "x", "scopes": ["read"], "user_id": 1}],
)
async def test_invalid_create_is_422(client: httpx.AsyncClient, user: UserHandle, payload: dict[str, object]) -> None:
    assert (await client.post(KEYS, json=payload, headers=user.headers)).status_code == 422


async def test_read_key_can_get_but_not_write(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read"])
    assert (await client.get("/api/v1/items", headers=api_key_headers(key["key"]))).status_code == 200
    r = await client.post("/api/v1/items", json=item_payload(), headers=api_key_headers(key["key"]))
    assert r.status_code == 403
    assert "'write'" in r.json()["detail"]


async def test_write_only_key_cannot_read(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["write"])
    headers = api_key_headers(key["key"])
    assert (await client.post("/api/v1/items", json=item_payload(), headers=headers)).status_code == 201
    assert (await client.get("/api/v1/items", headers=headers)).status_code == 403


async def test_key_acts_as_its_user(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read", "write"])
    created = (await client.post("/api/v1/items", json=item_payload(), headers=api_key_headers(key["key"]))).json()
    assert created["owner_id"] == user.id
    who = (await client.get("/api/v1/auth/whoami", headers=api_key_headers(key["key"]))).json()
    assert who == {"kind": "api_key", "subject": str(user.id), "scopes": ["read", "write"]}


async def test_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/items", headers=api_key_headers("rk_" + "x" * 43))
    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid API key."


async def test_revoke_takes_effect_immediately(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read"])
    headers = api_key_headers(key["key"])
    assert (await client.get("/api/v1/items", headers=headers)).status_code == 200
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=user.headers)).status_code == 204
    assert (await client.get("/api/v1/items", headers=headers)).status_code == 401
    listed = (await client.get(KEYS, headers=user.headers)).json()
    assert listed[0]["revoked_at"] is not None


async def test_revoke_is_idempotent(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read"])
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=user.headers)).status_code == 204
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=user.headers)).status_code == 204


async def test_cannot_revoke_another_users_key(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle
) -> None:
    key = await create_api_key(client, user, ["read"])
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=other_user.headers)).status_code == 404
    assert (await client.delete(f"{KEYS}/999999", headers=other_user.headers)).status_code == 404
    assert (await client.get("/api/v1/items", headers=api_key_headers(key["key"]))).status_code == 200


async def test_keys_cannot_manage_keys(client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read", "write"])
    headers = api_key_headers(key["key"])
    r = await client.post(KEYS, json={"name": "child", "scopes": ["read"]}, headers=headers)
    assert r.status_code == 403
    assert (await client.get(KEYS, headers=headers)).status_code == 403


async def test_list_keys_is_per_user(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    await create_api_key(client, user, ["read"])
    assert (await client.get(KEYS, headers=other_user.headers)).json() == []


async def test_key_limit_per_user_is_409(client: httpx.AsyncClient, user: UserHandle) -> None:
    for _ in range(MAX_KEYS_PER_USER):
        await create_api_key(client, user, ["read"])
    r = await client.post(KEYS, json={"name": "one-too-many", "scopes": ["read"]}, headers=user.headers)
    assert r.status_code == 409


async def test_key_of_deactivated_user_is_401(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    key = await create_api_key(client, user, ["read"])
    await set_user_active(app, user.id, False)
    assert (await client.get("/api/v1/items", headers=api_key_headers(key["key"]))).status_code == 401
