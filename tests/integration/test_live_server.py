"""The app as a real process against the containers: a whole user journey over real sockets.

uvicorn (one process) and gunicorn (2 uvicorn workers) each start on an *empty* database and
migrate it on the way up, exactly as ``harness serve`` does (uvicorn: ``python -m
reference_app.migrate upgrade`` first; gunicorn: ``on_starting``). Then an httpx client and a
websocket client (the ``websockets`` library) go through: register, login, items CRUD, upload,
ranged download (206/416), websocket echo and update broadcast, cached read (miss then hit, on
Redis), and a 429 from the rate limiter.

Websocket broadcasts are per process by design (``reference_app/services/pubsub.py``): under
gunicorn a subscriber sees updates made through its own worker. The gunicorn journey therefore
sends updates on fresh connections until one lands on the subscriber's worker (bounded).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.integration.support import PgDb, RedisDb, server, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVERS = {"uvicorn": ("uvicorn", 1), "gunicorn-2-workers": ("gunicorn", 2)}
LAB_LIMIT = 3


async def _recv(ws: Any, within: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), within)))


async def _journey(base: str, ws_base: str, redis_db: RedisDb, workers: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
        ready = await http.get("/health/ready")
        assert ready.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "rate_limiter": "ok"}}

        # register and log in
        creds = {"email": "journey@example.com", "password": "journey-password-1"}
        r = await http.post("/api/v1/users", json=creds | {"full_name": "Jo Urney"})
        assert r.status_code == 201, r.text
        assert (await http.post("/api/v1/users", json=creds)).status_code == 409
        assert (await http.post("/api/v1/auth/token",
                                data={"username": creds["email"], "password": "wrong-password"})).status_code == 401
        r = await http.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
        assert r.status_code == 200
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v1/users/me", headers=auth)).json()["email"] == creds["email"]

        # items
        r = await http.post("/api/v1/items", headers=auth, json={"name": "desk", "category": "office", "price": 120})
        assert r.status_code == 201
        item, etag = r.json(), r.headers["etag"]
        assert r.headers["location"] == f"/api/v1/items/{item['id']}"
        listing = (await http.get("/api/v1/items", headers=auth, params={"category": "office"})).json()
        assert [i["id"] for i in listing["items"]] == [item["id"]]

        # cached read on Redis: miss, then hit, under the documented key
        url = f"/api/v1/items/{item['id']}/cached"
        assert (await http.get(url, headers=auth)).headers["x-cache"] == "miss"
        assert (await http.get(url, headers=auth)).headers["x-cache"] == "hit"
        assert redis_db.client.exists(f"refapp:test:item:{item['id']}") == 1

        # websocket: echo, then the update broadcast
        ws_url = f"{ws_base}/api/v1/ws/items/{item['id']}?token={token}"
        async with connect(ws_url, open_timeout=10, close_timeout=5) as ws:
            await ws.send("hello")
            assert await _recv(ws) == {"echo": "hello"}
            event, versions = None, set()
            for attempt in range(40 if workers > 1 else 1):  # bounded; see the module docstring
                async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as fresh:
                    r = await fresh.put(f"/api/v1/items/{item['id']}", headers={**auth, "If-Match": etag},
                                        json={"name": "desk", "category": "office", "price": 100 + attempt})
                assert r.status_code == 200, r.text
                etag = r.headers["etag"]
                versions.add(r.json()["version"])
                # Under gunicorn, 2 s without an event is taken as "that update went to the other
                # worker". On a loaded machine the event may just be late and arrive while a later
                # update is awaited, so it is checked against every update made, not only the last.
                try:
                    event = await _recv(ws, within=2.0 if workers > 1 else 30.0)
                    break
                except TimeoutError:
                    continue
            assert event is not None, "no update was broadcast to the subscriber"
            assert event["event"] == "item.updated"
            assert event["item"]["id"] == item["id"]
            assert event["item"]["version"] in versions, (event, versions)

        # the update invalidated the cache
        assert (await http.get(url, headers=auth)).headers["x-cache"] == "miss"

        # upload, download whole and by range
        blob = os.urandom(64 * 1024 + 7)
        r = await http.post("/api/v1/files", headers=auth,
                            files={"file": ("data.bin", blob, "application/octet-stream")})
        assert r.status_code == 201, r.text
        meta = r.json()
        assert (meta["size"], meta["sha256"]) == (len(blob), hashlib.sha256(blob).hexdigest())
        content = f"/api/v1/files/{meta['id']}/content"
        whole = await http.get(content, headers=auth)
        assert (whole.status_code, whole.content) == (200, blob)
        part = await http.get(content, headers={**auth, "Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(blob)}"
        assert part.content == blob[1000:2000]
        tail = await http.get(content, headers={**auth, "Range": "bytes=-7"})
        assert (tail.status_code, tail.content) == (206, blob[-7:])
        beyond = await http.get(content, headers={**auth, "Range": f"bytes={len(blob)}-"})
        assert beyond.status_code == 416

        # delete the item
        assert (await http.delete(f"/api/v1/items/{item['id']}", headers=auth)).status_code == 204
        assert (await http.get(f"/api/v1/items/{item['id']}", headers=auth)).status_code == 404

        # rate limit: LAB_LIMIT pass, then 429 with its headers (shared across workers on Redis)
        statuses = []
        for _ in range(LAB_LIMIT + 2):
            async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as fresh:
                statuses.append(await fresh.get("/api/v1/lab/limited"))
        assert [r.status_code for r in statuses] == [200] * LAB_LIMIT + [429, 429]
        refused = statuses[-1]
        assert refused.headers["x-ratelimit-limit"] == str(LAB_LIMIT)
        assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("kind", SERVERS.values(), ids=SERVERS.keys())
async def test_user_journey_against_a_live_server(
    kind: tuple[str, int], pg_empty: PgDb, redis_db: RedisDb, live_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    server_kind, workers = kind
    env = live_env(pg_empty, redis_db, lab_limit=f"{LAB_LIMIT}/minute", redis_timeout_s="5")
    with server(tmp_path, env, kind=server_kind, workers=workers, migrate=True) as srv:
        if workers > 1:
            assert len(await wait_for_workers(srv, workers)) >= workers
        await _journey(srv.base_url, srv.base_url.replace("http://", "ws://"), redis_db, workers)
    # what the journey wrote is in PostgreSQL, migrated by the server itself
    assert await pg_empty.fetchval("SELECT version_num FROM alembic_version")
    assert await pg_empty.fetchval("SELECT count(*) FROM users WHERE email = 'journey@example.com'") == 1
    assert await pg_empty.fetchval("SELECT count(*) FROM files") == 1
    assert await pg_empty.fetchval("SELECT count(*) FROM items") == 0
