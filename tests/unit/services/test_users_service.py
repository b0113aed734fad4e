"""User service and start-up seeding, against the app's database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from reference_app.models import User
from reference_app.schemas.users import UserCreate, UserUpdate
from reference_app.services import users as user_service
from reference_app.services.bootstrap import seed_admin
from tests.utils.factories import UserHandle, set_user_active


async def _count_users(app: FastAPI) -> int:
    async with app.state.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(User)) or 0)


async def test_register_lowercases_and_hashes(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with app.state.sessionmaker() as s:
        user = await user_service.register(s, app.state.hasher,
                                           UserCreate(email="MiXeD@Example.com", password="long enough"))
    assert user.email == "mixed@example.com"
    assert user.hashed_password.startswith("$argon2id$")
    assert user.role == "user"


async def test_authenticate(app: FastAPI, client: httpx.AsyncClient, user: UserHandle) -> None:
    async with app.state.sessionmaker() as s:
        assert (await user_service.authenticate(s, app.state.hasher, user.email, user.password)) is not None
        assert await user_service.authenticate(s, app.state.hasher, user.email, "wrong") is None
        assert await user_service.authenticate(s, app.state.hasher, "nobody@example.com", "x") is None
    await set_user_active(app, user.id, False)
    async with app.state.sessionmaker() as s:
        assert await user_service.authenticate(s, app.state.hasher, user.email, user.password) is None


async def test_update_with_nothing_set_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, user: UserHandle
) -> None:
    async with app.state.sessionmaker() as s:
        db_user = await s.get(User, user.id)
        assert db_user is not None
        before = (db_user.full_name, db_user.hashed_password)
        await user_service.update(s, app.state.hasher, db_user, UserUpdate())
        assert (db_user.full_name, db_user.hashed_password) == before


async def test_seed_admin_is_idempotent(app: FastAPI, client: httpx.AsyncClient) -> None:
    before = await _count_users(app)
    await seed_admin(app.state.sessionmaker, app.state.settings, app.state.hasher)
    assert await _count_users(app) == before == 1
    async with app.state.sessionmaker() as s:
        admin = await s.scalar(select(User).where(User.email == "admin@example.com"))
    assert admin is not None
    assert admin.role == "admin"


async def test_no_seed_without_settings(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    from reference_app.main import create_app

    app = create_app(make_settings(seed_admin_email=None, seed_admin_password=None))
    async with client_for(app):
        assert await _count_users(app) == 0
