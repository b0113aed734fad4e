"""Alembic on a real PostgreSQL: empty → head → base → head, and head equals the models.

The migration functions are the app's public entry points (``reference_app.migrate``). Alembic's
env calls ``asyncio.run``, so each call runs in a worker thread, off the test's event loop.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from reference_app import migrate
from reference_app.models import Base
from tests.integration.support import PgDb, run_in_thread

pytestmark = pytest.mark.integration

TABLES = {"users", "items", "api_keys", "files", "jobs", "audit_events", "idempotency_records"}


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


async def _revision(db: PgDb) -> str | None:
    if "alembic_version" not in await db.tables():
        return None
    rows = await db.fetch("SELECT version_num FROM alembic_version")
    return rows[0]["version_num"] if rows else None


async def test_upgrade_empty_database_to_head(pg_empty: PgDb) -> None:
    assert await pg_empty.tables() == set()
    run_in_thread(migrate.upgrade, pg_empty.url)
    assert await pg_empty.tables() - {"alembic_version"} == TABLES
    assert await _revision(pg_empty) == _head()


async def test_downgrade_to_base_then_upgrade_again(pg_empty: PgDb) -> None:
    run_in_thread(migrate.upgrade, pg_empty.url)
    run_in_thread(migrate.downgrade, pg_empty.url, "base")
    assert await pg_empty.tables() - {"alembic_version"} == set()
    assert await _revision(pg_empty) is None
    # Nothing the schema owned survives a downgrade (sequences, indexes, types would block the re-run).
    leftovers = await pg_empty.fetch(
        "SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND relname NOT LIKE 'alembic_version%'"
    )
    assert [dict(r) for r in leftovers] == []
    run_in_thread(migrate.upgrade, pg_empty.url)
    assert await pg_empty.tables() - {"alembic_version"} == TABLES
    assert await _revision(pg_empty) == _head()


async def test_upgrade_at_head_is_a_no_op(pg: PgDb) -> None:
    await pg.execute("INSERT INTO users (email, hashed_password, role, is_active, created_at) "
                     "VALUES ('keep@example.com', 'x', 'user', true, now())")
    run_in_thread(migrate.upgrade, pg.url)
    assert await pg.fetchval("SELECT count(*) FROM users") == 1
    assert await _revision(pg) == _head()


async def test_migrated_postgres_schema_matches_the_models(pg: PgDb) -> None:
    engine = create_async_engine(pg.url)
    try:
        async with engine.connect() as conn:
            def diff(sync_conn: object) -> list[object]:
                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "compare_server_default": True}  # type: ignore[arg-type]
                )
                return list(compare_metadata(context, Base.metadata))

            assert await conn.run_sync(diff) == []

            def constraints(sync_conn: object) -> tuple[set[str], list[dict[str, object]]]:
                insp = inspect(sync_conn)
                return ({c["name"] for c in insp.get_unique_constraints("items")},  # type: ignore[misc]
                        insp.get_foreign_keys("items"))

            uniques, fks = await conn.run_sync(constraints)
    finally:
        await engine.dispose()
    assert "uq_items_owner_name" in uniques
    assert any(fk["referred_table"] == "users" and fk["options"].get("ondelete") == "CASCADE" for fk in fks)
