"""Request-scoped dependencies: ``CurrentUserRef`` on its own, without a router that authenticates.

On the items router the rate-limit dependency resolves the principal first and ``CurrentUserRef``
reads it from the request (tests/unit/api cover that path); a route elsewhere must still get a
checked user, never a silent pass.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from reference_app.core.deps import CurrentUserRef
from tests.utils.factories import UserHandle


def _add_probe(app: FastAPI) -> None:
    @app.get("/probe/user-ref")
    async def probe(ref: CurrentUserRef) -> dict[str, object]:
        return {"id": ref.id, "role": ref.role}


async def test_user_ref_resolves_the_credential_itself_without_a_router_dependency(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    _add_probe(app)
    r = await client.get("/probe/user-ref", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": user.id, "role": "user"}


async def test_user_ref_refuses_missing_and_bad_credentials(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    _add_probe(app)
    assert (await client.get("/probe/user-ref")).status_code == 401
    tampered = {"Authorization": user.headers["Authorization"][:-2] + "xx"}
    assert (await client.get("/probe/user-ref", headers=tampered)).status_code == 401
    assert (await client.get("/probe/user-ref", headers={"X-API-Key": "rk_not-a-key"})).status_code == 401
