"""``Idempotency-Key`` for item creation (draft-ietf-httpapi-idempotency-key-header).

The key is claimed with an INSERT before the work runs: a concurrent duplicate hits the unique
constraint and gets 409, a completed one replays the stored response, and the same key with a
different body is a client error (422).

Records are bounded per user: a new claim first forgets the user's records older than ``TTL_S`` (the
draft lets a server expire keys; a retry a day later is a new request), then the oldest ones past
``MAX_PER_USER``. Without that the table grows with every idempotent create, forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.errors import Conflict, Unprocessable
from reference_app.models import IdempotencyRecord

TTL_S = 24 * 3600
MAX_PER_USER = 1000


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    location: str | None


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def prune(session: AsyncSession, user_id: int, *, ttl_s: int = TTL_S, max_records: int = MAX_PER_USER) -> None:
    """Forget ``user_id``'s expired records, then the oldest past ``max_records - 1`` (room for one more)."""
    owned = IdempotencyRecord.user_id == user_id
    await session.execute(delete(IdempotencyRecord).where(
        owned, IdempotencyRecord.created_at < datetime.now(UTC) - timedelta(seconds=ttl_s)))
    count = await session.scalar(select(func.count()).select_from(IdempotencyRecord).where(owned)) or 0
    excess = count - (max_records - 1)
    if excess > 0:
        oldest = select(IdempotencyRecord.id).where(owned).order_by(IdempotencyRecord.id).limit(excess)
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(oldest)))


async def claim(session: AsyncSession, user_id: int, key: str, request_hash: str, *, ttl_s: int = TTL_S,
                max_records: int = MAX_PER_USER) -> StoredResponse | None:
    """Claim ``key`` for this request, or return the response it already produced."""
    existing = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if existing is not None and existing.created_at < datetime.now(UTC) - timedelta(seconds=ttl_s):
        existing = None  # expired: pruned below, and the key is new again
    if existing is None:
        await prune(session, user_id, ttl_s=ttl_s, max_records=max_records)
        session.add(IdempotencyRecord(user_id=user_id, key=key, request_hash=request_hash))
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict("A request with this Idempotency-Key is already in progress.") from exc
        return None
    if existing.request_hash != request_hash:
        raise Unprocessable("This Idempotency-Key was used with a different request body.")
    if existing.status_code is None or existing.response_body is None:
        raise Conflict("A request with this Idempotency-Key is already in progress.")
    return StoredResponse(existing.status_code, existing.response_body, existing.location)


async def complete(
    session: AsyncSession, user_id: int, key: str, status_code: int, body: dict[str, Any], location: str | None
) -> None:
    record = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if record is not None:
        record.status_code, record.response_body, record.location = status_code, body, location
        await session.commit()


async def release(session: AsyncSession, user_id: int, key: str) -> None:
    """Forget a claim whose request failed, so the client may retry with the same key."""
    await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    await session.commit()
