"""User accounts: registration, authentication, profile updates."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.errors import Conflict, NotFound
from reference_app.core.principals import PrincipalCache
from reference_app.core.security import PasswordHasher
from reference_app.models import Role, User
from reference_app.schemas.users import UserCreate, UserUpdate


async def register(session: AsyncSession, hasher: PasswordHasher, data: UserCreate) -> User:
    user = User(
        email=data.email.lower(),
        hashed_password=await hasher.hash(data.password),
        full_name=data.full_name,
        role=Role.USER.value,  # never from input: self-registration cannot mint an admin
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("A user with this email already exists.") from exc
    return user


async def authenticate(session: AsyncSession, hasher: PasswordHasher, email: str, password: str) -> User | None:
    """None for an unknown user and for a wrong password alike, after the same amount of work."""
    user = await session.scalar(select(User).where(User.email == email.lower()))
    ok = await hasher.verify(password, user.hashed_password if user is not None else None)
    if user is None or not ok or not user.is_active:
        return None
    return user


async def update(session: AsyncSession, hasher: PasswordHasher, user: User, data: UserUpdate) -> User:
    changes = data.model_dump(exclude_unset=True)
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if changes.get("password"):
        user.hashed_password = await hasher.hash(changes["password"])
    await session.commit()
    return user


async def list_users(session: AsyncSession, limit: int, offset: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User)) or 0
    rows = await session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


async def set_role(session: AsyncSession, principals: PrincipalCache, user_id: int, role: Role) -> None:
    """Change a user's role; their cached principals go, so the next request sees the new role."""
    await _change(session, principals, user_id, role=role.value)


async def set_active(session: AsyncSession, principals: PrincipalCache, user_id: int, active: bool) -> None:
    """(De)activate a user; a deactivated user's tokens and API keys stop working on the next request."""
    await _change(session, principals, user_id, is_active=active)


async def _change(session: AsyncSession, principals: PrincipalCache, user_id: int, **values: object) -> None:
    result = await session.execute(sql_update(User).where(User.id == user_id).values(**values))
    if result.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult for UPDATE
        raise NotFound("No such user.")
    await session.commit()
    # After the commit: a request between the invalidation and the commit could re-cache the old row.
    principals.invalidate_user(user_id)
