"""``Idempotency-Key`` for item creation (draft-ietf-httpapi-idempotency-key-header).

The key is claimed with an INSERT before the work runs: a concurrent duplicate hits the unique
constraint and gets 409, a completed one replays the stored response, and the same key with a
different body is a client error (422).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.errors import Conflict, Unprocessable
from reference_app.models import IdempotencyRecord


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    location: str | None


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def claim(session: AsyncSession, user_id: int, key: str, request_hash: str) -> StoredResponse | None:
    """Claim ``key`` for this request, or return the response it already produced."""
    existing = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if existing is None:
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
