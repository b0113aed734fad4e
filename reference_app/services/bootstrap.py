"""Start-up data: an admin account from settings, so a fresh deployment can be administered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reference_app.core.config import Settings
from reference_app.core.security import PasswordHasher
from reference_app.models import Role, User


async def seed_admin(maker: async_sessionmaker[AsyncSession], settings: Settings, hasher: PasswordHasher) -> None:
    if not settings.seed_admin_email or settings.seed_admin_password is None:
        return
    async with maker() as session:
        existing = await session.scalar(select(User).where(User.email == settings.seed_admin_email.lower()))
        if existing is not None:
            return
        session.add(User(
            email=settings.seed_admin_email.lower(),
            hashed_password=await hasher.hash(settings.seed_admin_password.get_secret_value()),
            full_name="Administrator",
            role=Role.ADMIN.value,
        ))
        try:
            await session.commit()
        except IntegrityError:
            # Another worker seeded it first (gunicorn starts several lifespans at once).
            await session.rollback()
