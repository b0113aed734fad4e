"""In-process app fixtures (a pytest plugin, loaded through ``pytest_plugins``).

Each test gets its own app and its own in-memory SQLite database: isolation without rollback
tricks, at a cost of a few milliseconds per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core.config import Settings
from reference_app.main import create_app
from tests.utils.factories import UserHandle, create_user

# Cheap argon2 in tests: hashing cost is benchmarked in tests/bench, not paid 500 times here.
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 1024}
JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def build_test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": "sqlite+aiosqlite:///:memory:",
        "storage_dir": str(tmp_path / "files"),
        "jwt_secret": JWT_SECRET,
        "access_log": False,
        "default_limit": "10000/minute",
        "login_limit": "1000/minute",
        "signup_limit": "1000/minute",
        "reset_limit": "1000/minute",
        "lab_limit": "1000/second",
        "seed_admin_email": "admin@example.com",
        "seed_admin_password": "admin-password-123",
        "service_clients": ["svc-reporting:svc-secret-0123456789:read write"],
        **FAST_HASH,
    }
    values.update(overrides)
    return Settings(**values)


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        return build_test_settings(tmp_path, **overrides)

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in open_client(app):
        yield c


@pytest.fixture
def client_for() -> Callable[[FastAPI], Any]:
    """For tests that build their own app with special settings: ``async with client_for(app) as c``."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def cm(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async for c in open_client(app):
            yield c

    return cm


@pytest.fixture
async def user(client: httpx.AsyncClient) -> UserHandle:
    return await create_user(client)


@pytest.fixture
async def other_user(client: httpx.AsyncClient) -> UserHandle:
    return await create_user(client)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> UserHandle:
    from tests.utils.factories import login

    return await login(client, email="admin@example.com", password="admin-password-123")


def metric_value(app: FastAPI, name: str, **labels: str) -> float:
    """One sample from the app's Prometheus registry; 0.0 where the series has not been touched yet."""
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)
