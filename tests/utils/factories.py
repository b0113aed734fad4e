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


# ---- added for the unit suites (tests/unit/api, tests/unit/core) ---------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def create_items(
    client: httpx.AsyncClient, user: UserHandle, specs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Create one item per spec (each a partial payload), in order."""
    return [await create_item(client, user, **spec) for spec in specs]


async def set_user_active(app: Any, user_id: int, active: bool) -> None:
    """Flip ``is_active`` through the service (there is no API for deactivation), which also drops the
    user's cached principals, as every deactivation must."""
    from reference_app.services import users as user_service

    async with app.state.sessionmaker() as session:
        await user_service.set_active(session, app.state.principals, user_id, active)


# ---- added for the integration suite (tests/integration) ----------------------------------------


def parity_items() -> list[dict[str, Any]]:
    """A fixed catalogue that exercises ordering edge cases on every backend: upper/lower case,
    punctuation, digits, non-ASCII (byte order), equal prices (the id tiebreak), zero and the
    maximum price, half-even rounding to cents, and descriptions with and without text."""
    names = [
        "alpha", "Alpha", "ALPHA-2", "beta", "Beta", "zulu", "Zulu", "_under", "-dash", "10 apples",
        "9 pears", "item 10", "item 2", "Item 3", "émile", "Émile", "ümlaut", "zz top", "a", "b b",
        "Ω omega", "mid", "Mid", "x-ray", "0 zero",
    ]
    categories = ["tools", "books", "garden-2", "food", "tools"]
    prices = [10, 10, 19.99, 0, 999_999.99, 5.5, 12.345, 12.355, 10, 250, 0.01, 42, 42, 7.25, 100]
    return [
        {
            "name": name,
            "category": categories[i % len(categories)],
            "price": prices[i % len(prices)],
            "description": None if i % 3 == 0 else f"description {i} — ü",
        }
        for i, name in enumerate(names)
    ]
