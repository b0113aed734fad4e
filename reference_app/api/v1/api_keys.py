"""API keys: created and revoked by a signed-in user, shown once, stored as a hash."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from reference_app.core.db import SessionDep
from reference_app.core.deps import BearerUser, PrincipalCacheDep
from reference_app.core.errors import Conflict, NotFound, problem_responses
from reference_app.core.security import new_api_key
from reference_app.models import ApiKey
from reference_app.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from reference_app.schemas.common import DbId

router = APIRouter(prefix="/api-keys", tags=["api-keys"])
MAX_KEYS_PER_USER = 20


@router.post(
    "",
    operation_id="api_keys_create",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_key(body: ApiKeyCreate, user: BearerUser, session: SessionDep) -> ApiKeyCreated:
    active = await session.scalars(select(ApiKey.id).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)))
    if len(active.all()) >= MAX_KEYS_PER_USER:
        raise Conflict(f"At most {MAX_KEYS_PER_USER} active keys per user.")
    plaintext, prefix, digest = new_api_key()
    key = ApiKey(user_id=user.id, name=body.name, prefix=prefix, key_hash=digest, scopes=" ".join(body.scopes))
    session.add(key)
    await session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(key).model_dump(), "key": plaintext})


@router.get("", operation_id="api_keys_list", response_model=list[ApiKeyPublic], responses=problem_responses(401, 403))
async def list_keys(user: BearerUser, session: SessionDep) -> list[ApiKeyPublic]:
    rows = await session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id))
    return [ApiKeyPublic.model_validate(k) for k in rows]


@router.delete(
    "/{key_id}",
    operation_id="api_keys_revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404),
)
async def revoke_key(key_id: DbId, user: BearerUser, session: SessionDep, principals: PrincipalCacheDep) -> Response:
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != user.id:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.commit()
    # After the commit, so no request can re-cache the key from the old row; in this process the
    # revocation takes effect at once, in other workers within REFAPP_PRINCIPAL_CACHE_TTL_S.
    principals.invalidate_api_key(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
