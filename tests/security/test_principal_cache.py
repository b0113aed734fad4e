"""API2/API5:2023 with the principal cache in front of the database (core/principals.py).

A verified credential's principal is remembered for REFAPP_PRINCIPAL_CACHE_TTL_S seconds. These
tests warm that cache first, so each one fails if a change would be served from a stale entry:
role changes, deactivation and key revocation take effect on the very next request in the
process that makes them, and within the TTL in a process that did not see the change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core import principals as principals_module
from reference_app.main import create_app
from reference_app.models import Role
from reference_app.services import users as user_service
from tests.utils.factories import UserHandle, create_api_key, create_item, create_user, set_user_active

ME = "/api/v1/users/me"


async def _set_role(app: FastAPI, user_id: int, role: Role) -> None:
    async with app.state.sessionmaker() as session:
        await user_service.set_role(session, app.state.principals, user_id, role)


async def test_demoted_admin_loses_admin_routes_at_once(
    app: FastAPI, client: httpx.AsyncClient, admin: UserHandle
) -> None:
    admin_id = int((await client.get("/api/v1/auth/whoami", headers=admin.headers)).json()["subject"])
    assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 200  # cached now
    assert len(app.state.principals) >= 1
    await _set_role(app, admin_id, Role.USER)
    assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 403
    await _set_role(app, admin_id, Role.ADMIN)
    assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 200


async def test_deactivated_user_is_refused_on_the_cached_read_too(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    item = await create_item(client, user)
    key = await create_api_key(client, user, ["read"])
    url = f"/api/v1/items/{item['id']}/cached"
    for headers in (user.headers, {"X-API-Key": key["key"]}):  # both credentials cached, the body too
        assert (await client.get(url, headers=headers)).status_code == 200
        assert (await client.get(url, headers=headers)).headers["x-cache"] == "hit"
    await set_user_active(app, user.id, False)
    for headers in (user.headers, {"X-API-Key": key["key"]}):
        assert (await client.get(url, headers=headers)).status_code == 401


async def test_a_hit_touches_no_database(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    url = f"/api/v1/items/{item['id']}/cached"
    first = await client.get(url, headers=user.headers)
    assert first.headers["x-cache"] == "miss"

    def no_database() -> Any:
        raise AssertionError("the cached read opened a database session")

    app.state.sessionmaker = no_database
    hit = await client.get(url, headers=user.headers)
    assert (hit.status_code, hit.headers["x-cache"], hit.json()) == (200, "hit", first.json())
    assert hit.headers["etag"] == first.headers["etag"]


async def test_revocation_elsewhere_holds_within_the_ttl(
    make_settings: Callable[..., Any], client_for: Callable[[FastAPI], Any], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Two worker processes on one database: the one that did not revoke refuses the key once its
    entry is older than REFAPP_PRINCIPAL_CACHE_TTL_S, the documented bound, and not before."""
    now = [1000.0]
    monkeypatch.setattr(principals_module.time, "monotonic", lambda: now[0])
    settings = make_settings(principal_cache_ttl_s=5, database_url=f"sqlite+aiosqlite:///{tmp_path}/shared.db")
    worker_a, worker_b = create_app(settings), create_app(settings)
    async with client_for(worker_a) as a, client_for(worker_b) as b:
        user = await create_user(a)
        key = await create_api_key(a, user, ["read"])
        headers = {"X-API-Key": key["key"]}
        assert (await b.get(ME, headers=headers)).status_code == 200  # worker B caches the key
        assert (await a.delete(f"/api/v1/api-keys/{key['id']}", headers=user.headers)).status_code == 204
        assert (await a.get(ME, headers=headers)).status_code == 401  # at once where it was revoked
        now[0] += 4.9
        assert (await b.get("/api/v1/auth/whoami", headers=headers)).status_code == 200  # within the TTL
        now[0] += 0.2
        assert (await b.get("/api/v1/auth/whoami", headers=headers)).status_code == 401  # and no longer
