"""Idempotency records: claim, in-progress conflict, replay, body mismatch, release."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core.errors import Conflict, Unprocessable
from reference_app.services import idempotency
from tests.utils.factories import UserHandle


def test_fingerprint_is_sha256_of_the_body() -> None:
    assert idempotency.fingerprint(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert idempotency.fingerprint(b"abc") != idempotency.fingerprint(b"abd")


async def test_claim_lifecycle(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    maker = app.state.sessionmaker
    async with maker() as s:
        assert await idempotency.claim(s, user.id, "k", "h1") is None
    async with maker() as s:
        with pytest.raises(Conflict, match="in progress"):
            await idempotency.claim(s, user.id, "k", "h1")
    async with maker() as s:
        with pytest.raises(Unprocessable):
            await idempotency.claim(s, user.id, "k", "h2")
    async with maker() as s:
        await idempotency.complete(s, user.id, "k", 201, {"id": 1}, "/api/v1/items/1")
    async with maker() as s:
        stored = await idempotency.claim(s, user.id, "k", "h1")
    assert stored == idempotency.StoredResponse(201, {"id": 1}, "/api/v1/items/1")


async def test_release_frees_the_key(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    maker = app.state.sessionmaker
    async with maker() as s:
        await idempotency.claim(s, user.id, "k", "h1")
        await idempotency.release(s, user.id, "k")
    async with maker() as s:
        assert await idempotency.claim(s, user.id, "k", "other-body") is None


async def test_complete_for_an_unknown_key_is_a_no_op(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    async with app.state.sessionmaker() as s:
        await idempotency.complete(s, user.id, "never-claimed", 201, {}, None)
    async with app.state.sessionmaker() as s:
        assert await idempotency.claim(s, user.id, "never-claimed", "h") is None


async def test_concurrent_claim_of_the_same_key_is_409(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    """Two requests both see "no record" and both insert: the unique constraint lets one win."""
    maker = app.state.sessionmaker
    async with maker() as s:
        await idempotency.claim(s, user.id, "race", "h")
    async with maker() as s:
        async def nothing_yet(*args: object, **kwargs: object) -> None:
            return None

        s.scalar = nothing_yet  # type: ignore[method-assign]  # this session lost the race to the lookup
        with pytest.raises(Conflict, match="in progress"):
            await idempotency.claim(s, user.id, "race", "h")


async def _count(maker: object, user_id: int) -> int:
    from sqlalchemy import func, select

    from reference_app.models import IdempotencyRecord

    async with maker() as s:  # type: ignore[operator]
        return int(await s.scalar(select(func.count()).select_from(IdempotencyRecord)
                                  .where(IdempotencyRecord.user_id == user_id)) or 0)


async def test_records_per_user_are_bounded_oldest_first(app: FastAPI, client: httpx.AsyncClient,
                                                         user: UserHandle) -> None:
    maker = app.state.sessionmaker
    for i in range(25):  # 2.5 x the bound
        async with maker() as s:
            assert await idempotency.claim(s, user.id, f"k{i}", "h", max_records=10) is None
        assert await _count(maker, user.id) <= 10
    assert await _count(maker, user.id) == 10
    async with maker() as s:  # the newest key is still remembered ...
        with pytest.raises(Conflict):
            await idempotency.claim(s, user.id, "k24", "h", max_records=10)
    async with maker() as s:  # ... the oldest was forgotten, so its key is new again
        assert await idempotency.claim(s, user.id, "k0", "h", max_records=10) is None


async def test_expired_records_are_forgotten(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from reference_app.models import IdempotencyRecord

    maker = app.state.sessionmaker
    async with maker() as s:
        await idempotency.claim(s, user.id, "old", "h1")
        await idempotency.complete(s, user.id, "old", 201, {"id": 1}, None)
        await s.execute(update(IdempotencyRecord).values(created_at=datetime.now(UTC) - timedelta(days=2)))
        await s.commit()
    async with maker() as s:  # same key, another body: expired, so a new request rather than a 422
        assert await idempotency.claim(s, user.id, "old", "h2") is None
    assert await _count(maker, user.id) == 1
