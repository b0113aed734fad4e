"""Auth endpoints: password flow, refresh, client credentials, whoami and password reset."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
from fastapi import FastAPI

from reference_app.core.security import KEY_ID
from tests.utils.app_fixtures import JWT_SECRET
from tests.utils.factories import UserHandle, bearer, set_user_active

TOKEN_URL = "/api/v1/auth/token"
CLIENT_URL = "/api/v1/auth/client-token"
SVC = {"grant_type": "client_credentials", "client_id": "svc-reporting", "client_secret": "svc-secret-0123456789"}


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "1", "iss": "refapp", "aud": "refapp-api", "iat": now, "nbf": now, "exp": now + 600,
            "jti": "x", "typ": "access"} | overrides


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---- password flow ---------------------------------------------------------------------------------


async def test_login_returns_a_verifiable_token_pair(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(TOKEN_URL, data={"username": user.email, "password": user.password})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    access = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="refapp-api",
                        issuer="refapp")
    refresh = jwt.decode(body["refresh_token"], JWT_SECRET, algorithms=["HS256"], audience="refapp-api",
                         issuer="refapp")
    assert access["sub"] == refresh["sub"] == str(user.id)
    assert (access["typ"], refresh["typ"]) == ("access", "refresh")
    assert jwt.get_unverified_header(body["access_token"])["kid"] == KEY_ID


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(TOKEN_URL, data={"username": user.email.upper(), "password": user.password})
    assert r.status_code == 200


async def test_wrong_password_is_401_problem(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post(TOKEN_URL, data={"username": user.email, "password": "not the password"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] == "Incorrect email or password."
    assert "access_token" not in r.text


async def test_unknown_user_is_indistinguishable_from_wrong_password(
    client: httpx.AsyncClient, user: UserHandle
) -> None:
    wrong = await client.post(TOKEN_URL, data={"username": user.email, "password": "nope-nope-nope"})
    unknown = await client.post(TOKEN_URL, data={"username": "ghost@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda b: {k: v for k, v in b.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())


async def test_login_without_password_field_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(TOKEN_URL, data={"username": "a@example.com"})
    assert r.status_code == 422
    assert any(e["loc"][-1] == "password" for e in r.json()["errors"])


async def test_inactive_user_can_neither_log_in_nor_use_a_token(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    await set_user_active(app, user.id, False)
    r = await client.post(TOKEN_URL, data={"username": user.email, "password": user.password})
    assert r.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401


# ---- whoami and bearer validation -------------------------------------------------------------------


async def test_whoami_with_user_token(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.get("/api/v1/auth/whoami", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == {"kind": "user", "subject": str(user.id), "scopes": ["read", "write"]}


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/auth/whoami")
    assert r.status_code == 401
    assert r.json()["detail"] == "Not authenticated."


async def test_expired_token_is_401(client: httpx.AsyncClient, user: UserHandle) -> None:
    now = int(time.time())
    token = jwt.encode(_claims(sub=str(user.id), iat=now - 3600, nbf=now - 3600, exp=now - 60), JWT_SECRET,
                       algorithm="HS256", headers={"kid": KEY_ID})
    r = await client.get("/api/v1/users/me", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid or expired token."


async def test_tampered_token_is_401(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    header, payload, sig = user.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(other_user.id)
    forged = ".".join([header, _b64(claims), sig])
    r = await client.get("/api/v1/users/me", headers=bearer(forged))
    assert r.status_code == 401


async def test_alg_none_token_is_401(client: httpx.AsyncClient, user: UserHandle) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(sub=str(user.id)))}."
    r = await client.get("/api/v1/users/me", headers=bearer(token))
    assert r.status_code == 401


async def test_token_signed_with_another_key_is_401(client: httpx.AsyncClient, user: UserHandle) -> None:
    token = jwt.encode(_claims(sub=str(user.id)), "another-secret-that-is-also-long-enough-000",
                       algorithm="HS256", headers={"kid": KEY_ID})
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_valid_token_for_a_missing_user_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    token = app.state.tokens.issue("424242", "access")
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.get("/api/v1/users/me", headers=bearer(user.refresh_token))
    assert r.status_code == 401


# ---- refresh -----------------------------------------------------------------------------------------


async def test_refresh_issues_a_working_pair(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 200
    pair = r.json()
    me = await client.get("/api/v1/users/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == user.email


async def test_access_token_is_refused_by_refresh(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.access_token})
    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid or expired refresh token."


async def test_refresh_for_unknown_or_non_user_subject_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    for subject in ("999999", "client:svc-reporting"):
        token = app.state.tokens.issue(subject, "refresh")
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401, subject


async def test_refresh_rejects_extra_fields(client: httpx.AsyncClient, user: UserHandle) -> None:
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token, "sub": "1"})
    assert r.status_code == 422


# ---- client credentials ------------------------------------------------------------------------------


async def test_client_credentials_grant(client: httpx.AsyncClient) -> None:
    r = await client.post(CLIENT_URL, data=SVC)
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "read write"
    assert "refresh_token" not in body
    who = await client.get("/api/v1/auth/whoami", headers=bearer(body["access_token"]))
    assert who.json() == {"kind": "client", "subject": "svc-reporting", "scopes": ["read", "write"]}


async def test_client_credentials_narrower_scope(client: httpx.AsyncClient) -> None:
    r = await client.post(CLIENT_URL, data=SVC | {"scope": "read"})
    assert r.status_code == 200
    assert r.json()["scope"] == "read"


async def test_client_credentials_scope_outside_allowance_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(CLIENT_URL, data=SVC | {"scope": "read admin"})
    assert r.status_code == 400
    assert "admin" in r.json()["detail"]


async def test_client_credentials_bad_secret_or_client_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post(CLIENT_URL, data=SVC | {"client_secret": "wrong"})).status_code == 401
    assert (await client.post(CLIENT_URL, data=SVC | {"client_id": "nobody"})).status_code == 401


async def test_client_credentials_wrong_grant_type_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(CLIENT_URL, data=SVC | {"grant_type": "password"})
    assert r.status_code == 422


async def test_service_client_cannot_use_user_operations(client: httpx.AsyncClient) -> None:
    token = (await client.post(CLIENT_URL, data=SVC)).json()["access_token"]
    r = await client.get("/api/v1/items", headers=bearer(token))
    assert r.status_code == 403
    assert "service client" in r.json()["detail"]


# ---- password reset ----------------------------------------------------------------------------------


async def test_password_reset_is_202_whether_or_not_the_account_exists(
    client: httpx.AsyncClient, user: UserHandle
) -> None:
    known = await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    unknown = await client.post("/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == {"status": "accepted"}


async def test_password_reset_invalid_email_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/password-reset", json={"email": "not-an-email"})
    assert r.status_code == 422
