"""Factories that create data through the public API, so tests exercise the same paths clients do."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@dataclass
class UserHandle:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


async def create_user(
    client: httpx.AsyncClient, *, email: str | None = None, password: str = DEFAULT_PASSWORD, **extra: Any
) -> UserHandle:
    email = email or unique_email()
    r = await client.post("/api/v1/users", json={"email": email, "password": password, **extra})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    return await login(client, email=email, password=password, user_id=user_id)


async def login(client: httpx.AsyncClient, *, email: str, password: str, user_id: int = 0) -> UserHandle:
    r = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    tokens = r.json()
    return UserHandle(
        id=user_id,
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )


def item_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    return {"name": f"item-{n}", "category": "tools", "price": 10.0 + n % 50, "description": None} | overrides


async def create_item(client: httpx.AsyncClient, user: UserHandle, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/items", json=item_payload(**overrides), headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def create_api_key(client: httpx.AsyncClient, user: UserHandle, scopes: list[str]) -> dict[str, Any]:
    r = await client.post("/api/v1/api-keys", json={"name": f"key-{next(_counter)}", "scopes": scopes},
                          headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
