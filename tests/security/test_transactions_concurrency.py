"""Transactions and concurrency: rollback on error, background jobs on their own session,
Idempotency-Key, and optimistic concurrency (ETag / If-Match).

The concurrent cases run on a SQLite *file* (``cached_app(file_db=True)``): one connection per
session and real write locks, as in production. The default in-memory test database shares a
single connection between all sessions (StaticPool), where "concurrent transactions" are not a
meaningful notion. Races are made deterministic with an ``asyncio.Barrier``/``Event`` placed
around the service call, so both requests are provably in flight together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core.config import Settings
from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser
from reference_app.main import create_app
from reference_app.models import Item
from reference_app.services import idempotency
from reference_app.services import items as item_service
from tests.security.conftest import AppCache, assert_problem, expect
from tests.utils.factories import UserHandle, create_item, create_user, item_payload

pytestmark = pytest.mark.security


def etag_of(item: dict[str, Any]) -> str:
    return f'"{item["id"]}.{item["version"]}"'


# ---- rollback on error ----------------------------------------------------------------------------


async def test_rollback_on_integrity_error_next_request_healthy(client: httpx.AsyncClient,
                                                                user: UserHandle) -> None:
    """API8:2023 / transactions: a unique-constraint failure is a 409 that rolls back; the next request
    on the same (shared) connection is healthy and sees no half-written row."""
    first = await create_item(client, user, name="dup")
    r = await client.post("/api/v1/items", json=item_payload(name="dup"), headers=user.headers)
    assert_problem(r, 409)
    second = await create_item(client, user, name="not-dup")
    listing = expect(await client.get("/api/v1/items", headers=user.headers), 200).json()
    assert [i["id"] for i in listing["items"]] == [first["id"], second["id"]]
    expect(await client.get("/health/ready"), 200)


async def test_rollback_on_unhandled_error(make_settings: Callable[..., Settings]) -> None:
    """API8:2023 / transactions: a handler that writes and then raises gets a 500 and its write is
    rolled back; on the single shared connection a missed rollback would leak into the next commit."""
    app = create_app(make_settings())

    async def write_then_fail(user: CurrentUser, session: SessionDep) -> None:
        session.add(Item(owner_id=user.id, name="ghost", category="tools", price=1))
        await session.flush()  # the INSERT is on the connection, inside the open transaction
        raise RuntimeError("failure after a write")

    app.add_api_route("/__write_then_fail", write_then_fail, methods=["POST"])
    async with app.router.lifespan_context(app):
        # Own client outside the 5xx guard: the 500 is what this case provokes.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            user = await create_user(c)
            r = await c.post("/__write_then_fail", headers=user.headers)
            assert r.status_code == 500
            assert r.headers["content-type"].startswith("application/problem+json")
            # The next request commits something; the ghost must not ride along.
            expect(await c.post("/api/v1/items", json=item_payload(name="real"), headers=user.headers), 201)
            listing = expect(await c.get("/api/v1/items", headers=user.headers), 200).json()
            assert [i["name"] for i in listing["items"]] == ["real"]
            expect(await c.post("/api/v1/items", json=item_payload(name="ghost"), headers=user.headers), 201)
            expect(await c.get("/health/ready"), 200)


# ---- background task session --------------------------------------------------------------------


class RecordingSessionmaker:
    """Wraps the app's sessionmaker; records when each session is opened and closed."""

    def __init__(self, inner: Any, events: list[tuple[str, int]]) -> None:
        self.inner, self.events = inner, events

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session = self.inner(*args, **kwargs)
        self.events.append(("open", id(session)))
        close = session.close

        async def recording_close() -> None:
            self.events.append(("close", id(session)))
            await close()

        session.close = recording_close
        return session


async def test_background_job_uses_its_own_session(app: FastAPI, client: httpx.AsyncClient,
                                                   user: UserHandle) -> None:
    """Transactions (API8:2023 misconfiguration class): the background job runs on a session of its own,
    opened after the request's session was closed, and completes."""
    await create_item(client, user, price=12.5, category="tools")
    events: list[tuple[str, int]] = []
    app.state.sessionmaker = RecordingSessionmaker(app.state.sessionmaker, events)
    r = expect(await client.post("/api/v1/jobs", json={"kind": "item_report"}, headers=user.headers), 202)
    job_id = r.json()["id"]
    assert r.json()["status"] == "pending"
    opened = [sid for kind, sid in events if kind == "open"]
    assert len(opened) >= 2, events  # the request's session, then the job's
    request_session, job_session = opened[0], opened[-1]
    assert request_session != job_session
    assert events.index(("close", request_session)) < events.index(("open", job_session)), events
    assert ("close", job_session) in events  # the job closed its session too
    job: dict[str, Any] = {}
    for _ in range(50):  # bounded poll (ASGITransport already ran the task; a server might not have)
        job = expect(await client.get(f"/api/v1/jobs/{job_id}", headers=user.headers), 200).json()
        if job["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert job["status"] == "done", job
    assert job["result"]["count"] == 1
    assert job["result"]["total_value"] == "12.50"


# ---- Idempotency-Key ------------------------------------------------------------------------------


async def test_idempotency_retry_returns_stored_result(client: httpx.AsyncClient, user: UserHandle) -> None:
    """draft-ietf-httpapi-idempotency-key-header §2 (API6:2023 business flows): a retry with the same key
    and body replays the stored response (same id, Idempotent-Replayed) and creates nothing new."""
    payload = item_payload()
    headers = {**user.headers, "Idempotency-Key": "retry-key-0001"}
    first = expect(await client.post("/api/v1/items", json=payload, headers=headers), 201)
    again = expect(await client.post("/api/v1/items", json=payload, headers=headers), 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert expect(await client.get("/api/v1/items", headers=user.headers), 200).json()["total"] == 1


async def test_idempotency_same_key_different_body(client: httpx.AsyncClient, user: UserHandle) -> None:
    """draft-ietf-httpapi-idempotency-key-header §2.7: the same key with a different body is a 422."""
    headers = {**user.headers, "Idempotency-Key": "reuse-key-0001"}
    expect(await client.post("/api/v1/items", json=item_payload(name="a"), headers=headers), 201)
    assert_problem(await client.post("/api/v1/items", json=item_payload(name="b"), headers=headers), 422)
    assert expect(await client.get("/api/v1/items", headers=user.headers), 200).json()["total"] == 1


async def test_idempotency_key_scoped_per_user(client: httpx.AsyncClient, user: UserHandle,
                                               other_user: UserHandle) -> None:
    """API1:2023 BOLA via Idempotency-Key: another user's key never replays (leaks) their stored response."""
    payload = item_payload()
    mine = expect(await client.post("/api/v1/items", json=payload,
                                    headers={**user.headers, "Idempotency-Key": "shared-key-1"}), 201)
    theirs = expect(await client.post("/api/v1/items", json=payload,
                                      headers={**other_user.headers, "Idempotency-Key": "shared-key-1"}), 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["owner_id"] == other_user.id


async def test_idempotency_concurrent_duplicate_in_flight(cached_app: AppCache, client_for: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """draft-ietf-httpapi-idempotency-key-header §2.7: a duplicate arriving while the first request is
    still in flight is a 409; afterwards the first's result is replayed."""
    entered, release = asyncio.Event(), asyncio.Event()
    real_create = item_service.create

    async def held_create(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await real_create(*args, **kwargs)

    async with client_for(cached_app(file_db=True)) as c:
        user = await create_user(c)
        monkeypatch.setattr(item_service, "create", held_create)
        payload = item_payload()
        headers = {**user.headers, "Idempotency-Key": "inflight-key-1"}
        first = asyncio.ensure_future(c.post("/api/v1/items", json=payload, headers=headers))
        await asyncio.wait_for(entered.wait(), 10)  # the first holds the claim, its work not done
        duplicate = await c.post("/api/v1/items", json=payload, headers=headers)
        release.set()
        created = expect(await first, 201)
        assert_problem(duplicate, 409)
        replay = expect(await c.post("/api/v1/items", json=payload, headers=headers), 201)
        assert replay.json()["id"] == created.json()["id"]


async def test_idempotency_concurrent_duplicates_race(cached_app: AppCache, client_for: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """draft-ietf-httpapi-idempotency-key-header §2.7: two requests racing to claim the same key (both
    past the lookup together): exactly one 201, the other 409, exactly one item."""
    real_claim = idempotency.claim
    barrier = asyncio.Barrier(2)

    async def racing_claim(*args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(barrier.wait(), 10)
        return await real_claim(*args, **kwargs)

    async with client_for(cached_app(file_db=True)) as c:
        user = await create_user(c)
        monkeypatch.setattr(idempotency, "claim", racing_claim)
        payload = item_payload()
        headers = {**user.headers, "Idempotency-Key": "race-key-1"}
        results = await asyncio.gather(*(c.post("/api/v1/items", json=payload, headers=headers) for _ in range(2)))
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        assert all(r.status_code < 500 for r in results)
        listing = expect(await c.get("/api/v1/items", headers=user.headers), 200).json()
        assert listing["total"] == 1


# ---- optimistic concurrency -------------------------------------------------------------------------


async def test_put_without_if_match_is_428(client: httpx.AsyncClient, user: UserHandle) -> None:
    """RFC 6585 §3 (428 Precondition Required) / lost-update prevention: PUT without If-Match is refused."""
    item = await create_item(client, user)
    assert_problem(await client.put(f"/api/v1/items/{item['id']}", json=item_payload(), headers=user.headers), 428)
    after = expect(await client.get(f"/api/v1/items/{item['id']}", headers=user.headers), 200).json()
    assert after == item | {"updated_at": after["updated_at"]}
    assert after["version"] == item["version"]


@pytest.mark.parametrize(
    "if_match",
    [pytest.param(lambda item: etag_of(item), id="stale-etag"),
     pytest.param(lambda item: f'"{item["id"] + 1}.{item["version"] + 1}"', id="other-items-etag"),
     pytest.param(lambda item: "garbage", id="unquoted-garbage"),
     pytest.param(lambda item: f'W/"{item["id"]}.{item["version"] + 1}"', id="weak-etag")],
)
async def test_stale_if_match_is_412(client: httpx.AsyncClient, user: UserHandle, if_match: Any) -> None:
    """RFC 9110 §13.1.1 (If-Match): a PUT whose validator does not match the current version is a 412;
    the item is unchanged."""
    item = await create_item(client, user)
    current = expect(await client.put(f"/api/v1/items/{item['id']}", json=item_payload(name="v2"),
                                      headers={**user.headers, "If-Match": etag_of(item)}), 200).json()
    r = await client.put(f"/api/v1/items/{item['id']}", json=item_payload(name="v3"),
                         headers={**user.headers, "If-Match": if_match(item)})
    assert_problem(r, 412)
    after = expect(await client.get(f"/api/v1/items/{item['id']}", headers=user.headers), 200).json()
    assert (after["name"], after["version"]) == ("v2", current["version"])


async def test_two_concurrent_puts_exactly_one_wins(cached_app: AppCache, client_for: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9110 §13.1.1 / lost update: two PUTs with the same If-Match, released together at the
    conditional UPDATE: exactly one 200, one 412, and the stored item is the winner's."""
    real_replace = item_service.replace
    barrier = asyncio.Barrier(2)

    async def racing_replace(*args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(barrier.wait(), 10)
        return await real_replace(*args, **kwargs)

    async with client_for(cached_app(file_db=True)) as c:
        user = await create_user(c)
        item = await create_item(c, user)
        monkeypatch.setattr(item_service, "replace", racing_replace)
        headers = {**user.headers, "If-Match": etag_of(item)}
        results = await asyncio.gather(
            c.put(f"/api/v1/items/{item['id']}", json=item_payload(name="writer-a"), headers=headers),
            c.put(f"/api/v1/items/{item['id']}", json=item_payload(name="writer-b"), headers=headers),
        )
        assert sorted(r.status_code for r in results) == [200, 412], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()
        assert winner["version"] == item["version"] + 1
        monkeypatch.setattr(item_service, "replace", real_replace)
        after = expect(await c.get(f"/api/v1/items/{item['id']}", headers=user.headers), 200).json()
        assert (after["name"], after["version"]) == (winner["name"], winner["version"])
