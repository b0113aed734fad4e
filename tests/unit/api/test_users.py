"""Users: registration (409 on duplicates), me read/update, no mass assignment, admin-only list."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.factories import DEFAULT_PASSWORD, UserHandle, create_api_key, create_user, login, unique_email

USERS = "/api/v1/users"


async def test_register_returns_public_profile(client: httpx.AsyncClient) -> None:
    email = unique_email("Reg")
    r = await client.post(USERS, json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "Ada"})
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == email.lower()
    assert body["full_name"] == "Ada"
    assert body["role"] == "user"
    assert body["is_active"] is True
    assert not {"password", "hashed_password"} & body.keys()


async def test_duplicate_email_is_409(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(USERS, json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/conflict")


async def test_duplicate_email_differing_only_in_case_is_409(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(USERS, json={"email": user.email.upper(), "password": DEFAULT_PASSWORD})
    assert r.status_code == 409


async def test_registration_still_works_after_a_409(client: httpx.AsyncClient, user: UserHandle) -> None:
    assert (await client.post(USERS, json={"email": user.email, "password": DEFAULT_PASSWORD})).status_code == 409
    r = await client.post(USERS, json={"email": unique_email(), "password": DEFAULT_PASSWORD})
    assert r.status_code == 201


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"is_active": False}, {"id": 1}, {"hashed_password": "x"}])
async def test_register_mass_assignment_is_422(client: httpx.AsyncClient, extra: dict[str, object]) -> None:
    r = await client.post(USERS, json={"email": unique_email(), "password": DEFAULT_PASSWORD, **extra})
    assert r.status_code == 422
    (field,) = extra
    assert any(e["loc"][-1] == field and e["type"] == "extra_forbidden" for e in r.json()["errors"])


@pytest.mark.parametrize(
    "payload",
    [{"email": "not-an-email", "password": DEFAULT_PASSWORD}, {"email": "a@example.com", "password": "short"},
     {"password": DEFAULT_PASSWORD}],
)
async def test_register_invalid_input_is_422(client: httpx.AsyncClient, payload: dict[str, str]) -> None:
    assert (await client.post(USERS, json=payload)).status_code == 422


async def test_read_me(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.get(f"{USERS}/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["id"] == user.id
    assert r.json()["email"] == user.email


async def test_read_me_without_auth_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{USERS}/me")).status_code == 401


async def test_update_full_name(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.patch(f"{USERS}/me", json={"full_name": "Grace Hopper"}, headers=user.headers)
    assert r.status_code == 200
    assert r.json()["full_name"] == "Grace Hopper"
    assert (await client.get(f"{USERS}/me", headers=user.headers)).json()["full_name"] == "Grace Hopper"


async def test_update_password_changes_login(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.patch(f"{USERS}/me", json={"password": "a brand new password"}, headers=user.headers)
    assert r.status_code == 200
    old = await client.post("/api/v1/auth/token", data={"username": user.email, "password": user.password})
    assert old.status_code == 401
    await login(client, email=user.email, password="a brand new password")


async def test_update_me_cannot_escalate_role(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.patch(f"{USERS}/me", json={"role": "admin"}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][-1] == "role"
    assert (await client.get(f"{USERS}/me", headers=user.headers)).json()["role"] == "user"


async def test_read_scoped_api_key_reads_me_but_cannot_update(client: httpx.AsyncClient, user: UserHandle) -> None:
    read_key = await create_api_key(client, user, ["read"])
    r = await client.patch(f"{USERS}/me", json={"full_name": "x"}, headers={"X-API-Key": read_key["key"]})
    assert r.status_code == 403
    assert (await client.get(f"{USERS}/me", headers={"X-API-Key": read_key["key"]})).status_code == 200


async def test_admin_lists_users(client: httpx.AsyncClient, admin: UserHandle, user: UserHandle) -> None:
    r = await client.get(USERS, headers=admin.headers)
    assert r.status_code == 200
    body = r.json()
    emails = {u["email"] for u in body["items"]}
    assert {"admin@example.com", user.email} <= emails
    assert body["total"] == len(body["items"]) >= 2
    assert {"limit": body["limit"], "offset": body["offset"]} == {"limit": 20, "offset": 0}


async def test_admin_list_pagination(client: httpx.AsyncClient, admin: UserHandle) -> None:
    for _ in range(3):
        await client.post(USERS, json={"email": unique_email(), "password": DEFAULT_PASSWORD})
    page = (await client.get(USERS, params={"limit": 2, "offset": 1}, headers=admin.headers)).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    assert page["items"][0]["email"] != "admin@example.com"  # ordered by id; the admin is first


async def test_admin_list_limit_over_max_is_422(client: httpx.AsyncClient, admin: UserHandle) -> None:
    assert (await client.get(USERS, params={"limit": 101}, headers=admin.headers)).status_code == 422


async def test_non_admin_list_is_403(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.get(USERS, headers=user.headers)
    assert r.status_code == 403
    assert r.json()["detail"] == "Administrators only."


async def test_anonymous_list_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(USERS)).status_code == 401


async def test_seeded_admin_has_admin_role(client: httpx.AsyncClient, admin: UserHandle) -> None:
    assert (await client.get(f"{USERS}/me", headers=admin.headers)).json()["role"] == "admin"


async def test_registered_users_are_never_admins(client: httpx.AsyncClient) -> None:
    u = await create_user(client, full_name="Mallory")
    me = (await client.get(f"{USERS}/me", headers=u.headers)).json()
    assert me["role"] == "user"
