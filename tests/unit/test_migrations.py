"""Alembic: upgrade/downgrade/upgrade on a file SQLite, and the migrated schema equals the models.

Sync tests on purpose: the Alembic env runs its own event loop (``asyncio.run``).
"""

from __future__ import annotations

import io
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from reference_app import migrate
from reference_app.models import Base

TABLES = {"users", "items", "api_keys", "files", "jobs", "audit_events", "idempotency_records"}
ROOT = Path(migrate.__file__).parent


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    path = tmp_path / "nested" / "dir" / "refapp.db"
    engine = create_engine(f"sqlite:///{path}")
    yield f"sqlite+aiosqlite:///{path}", engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_creates_the_schema_and_its_directory(db: tuple[str, Engine]) -> None:
    url, engine = db
    migrate.upgrade(url)
    assert _tables(engine) == TABLES
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0001"


def test_migrated_schema_matches_the_models(db: tuple[str, Engine]) -> None:
    url, engine = db
    migrate.upgrade(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_downgrade_upgrade(db: tuple[str, Engine]) -> None:
    url, engine = db
    migrate.upgrade(url)
    migrate.downgrade(url)
    assert _tables(engine) == set()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None
    migrate.upgrade(url)
    assert _tables(engine) == TABLES


def test_upgrade_is_idempotent(db: tuple[str, Engine]) -> None:
    url, engine = db
    migrate.upgrade(url)
    migrate.upgrade(url)
    assert _tables(engine) == TABLES


def test_key_constraints_exist(db: tuple[str, Engine]) -> None:
    url, engine = db
    migrate.upgrade(url)
    with engine.connect() as conn:
        insp = inspect(conn)
        uniques = {c["name"] for c in insp.get_unique_constraints("items")}
        fks = insp.get_foreign_keys("items")
    assert "uq_items_owner_name" in uniques
    assert fks[0]["referred_table"] == "users"
    assert fks[0]["options"].get("ondelete") == "CASCADE"


def test_offline_sql_generation() -> None:
    buffer = io.StringIO()
    cfg = migrate.alembic_config("sqlite:///offline.db")
    cfg.output_buffer = buffer
    from alembic import command

    command.upgrade(cfg, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE users" in sql
    assert "CREATE TABLE items" in sql


def test_alembic_config_carries_the_url() -> None:
    cfg = migrate.alembic_config("sqlite+aiosqlite:///x.db")
    assert cfg.attributes["url"] == "sqlite+aiosqlite:///x.db"
    assert cfg.attributes["configure_logging"] is False
    assert Path(cfg.get_main_option("script_location") or "") == ROOT / "migrations"
    assert "url" not in migrate.alembic_config().attributes


def test_memory_url_needs_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    migrate._ensure_sqlite_dir("sqlite+aiosqlite:///:memory:")
    migrate._ensure_sqlite_dir("postgresql+asyncpg://u@h/db")
    assert list(tmp_path.iterdir()) == []


# ---- gunicorn.conf.py ---------------------------------------------------------------------------------


class FakeServer:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.log = self

    def info(self, message: str, *args: Any) -> None:
        self.messages.append(message)


def test_gunicorn_conf_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REFAPP_BIND", "REFAPP_WORKERS", "REFAPP_GRACEFUL_TIMEOUT", "REFAPP_LOG_LEVEL",
                 "REFAPP_MAX_REQUESTS", "REFAPP_MAX_REQUESTS_JITTER"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert (conf["bind"], conf["workers"], conf["graceful_timeout"]) == ("127.0.0.1:8000", 2, 20)
    # Workers recycled with jitter (a safety net against slow growth; docs/load.md).
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (20000, 2000)
    assert conf["wsgi_app"] == "reference_app.main:create_app()"


def test_gunicorn_conf_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFAPP_BIND", "0.0.0.0:9000")
    monkeypatch.setenv("REFAPP_WORKERS", "4")
    monkeypatch.setenv("REFAPP_MAX_REQUESTS", "0")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["bind"], conf["workers"], conf["max_requests"]) == ("0.0.0.0:9000", 4, 0)


def test_the_harness_measures_gunicorn_without_recycling(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The env every server of this repository's experiments gets turns recycling off: at benchmark rates
    20000 requests per worker are seconds, and a reboot mid-round made a server-experiment round an outlier."""
    from harness.target import load_target
    from load.runner import RunOptions
    from load.servers import base_server_env

    target = load_target(ROOT.parent)
    assert target.serve.gunicorn_conf == ROOT / "gunicorn.conf.py"
    for name, value in base_server_env(target, RunOptions(), tmp_path, "token").items():
        monkeypatch.setenv(name, value)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["max_requests"] == 0


@pytest.mark.parametrize(("flag", "expected_calls"), [("true", 1), ("false", 0)])
def test_gunicorn_on_starting_migrates_once(
    monkeypatch: pytest.MonkeyPatch, flag: str, expected_calls: int
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(migrate, "upgrade", lambda *a: calls.append(a))
    monkeypatch.setenv("REFAPP_MIGRATE_ON_START", flag)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    server = FakeServer()
    conf["on_starting"](server)
    assert len(calls) == expected_calls
    assert len(server.messages) == expected_calls


def test_module_entry_point_upgrades_and_downgrades(
    db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m reference_app.migrate [upgrade|downgrade]``, with the URL from REFAPP_DATABASE_URL."""
    import sys
    import warnings

    from reference_app.core.config import get_settings

    url, engine = db
    monkeypatch.setenv("REFAPP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        for argv, expected in ((["upgrade"], TABLES), (["downgrade"], set())):
            monkeypatch.setattr(sys, "argv", ["reference_app.migrate", *argv])
            with warnings.catch_warnings():
                # runpy warns that the module is already imported; re-running it is the point here.
                warnings.simplefilter("ignore", RuntimeWarning)
                runpy.run_module("reference_app.migrate", run_name="__main__")
            assert _tables(engine) == expected
    finally:
        get_settings.cache_clear()
