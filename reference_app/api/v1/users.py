"""Registration, the signed-in user, and the admin-only user list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from reference_app.core.db import SessionDep
from reference_app.core.deps import AdminUser, CurrentUser, HasherDep
from reference_app.core.errors import problem_responses
from reference_app.core.ratelimit import by_client_ip, limit_dependency
from reference_app.schemas.items import MAX_PAGE
from reference_app.schemas.users import UserCreate, UserPage, UserPublic, UserUpdate
from reference_app.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"])


@router.post(
    "",
    operation_id="users_register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    dependencies=[Depends(limit_dependency("signup", "signup_limit", by_client_ip))],
    responses=problem_responses(409, 422, 429),
)
async def register(body: UserCreate, session: SessionDep, hasher: HasherDep) -> UserPublic:
    user = await user_service.register(session, hasher, body)
    return UserPublic.model_validate(user)


@router.get("/me", operation_id="users_read_me", response_model=UserPublic, responses=problem_responses(401, 403))
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/me", operation_id="users_update_me", response_model=UserPublic, responses=problem_responses(401, 403, 422)
)
async def update_me(body: UserUpdate, user: CurrentUser, session: SessionDep, hasher: HasherDep) -> UserPublic:
    return UserPublic.model_validate(await user_service.update(session, hasher, user, body))


@router.get("", operation_id="users_list", response_model=UserPage, responses=problem_responses(401, 403, 422))
async def list_users(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    users, total = await user_service.list_users(session, limit, offset)
    return UserPage(items=[UserPublic.model_validate(u) for u in users], total=total, limit=limit, offset=offset)
