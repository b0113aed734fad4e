"""load.servers.MigratedSchema: migrations run once per run, and every server starts from a copy.

The migration command is a stand-in (``python -c ...``) that creates a table in the database named
by REFAPP_DATABASE_URL and appends a line to a counter file, so the tests see how often it ran,
against what, and what each server's copy contains.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from harness.server import ServerError
from load.runner import RunOptions
from load.servers import MigratedSchema, migrate_cmd_for

FAKE_MIGRATION = """
import os, sqlite3, sys
url = os.environ["REFAPP_DATABASE_URL"]
with open(sys.argv[1], "a") as fh:
    fh.write(url + "\\n")
if url.startswith("sqlite"):
    db = sqlite3.connect(url.split(":///", 1)[1])
    db.execute("create table if not exists alembic_version (version_num text)")
    db.execute("insert into alembic_version values ('0001')")
    db.commit()
"""


def schema_for(tmp_path: Path, **options: object) -> tuple[MigratedSchema, Path]:
    counter = tmp_path / "migrations.txt"
    opts = RunOptions(migrate_cmd=("-c", FAKE_MIGRATION, str(counter)), **options)  # type: ignore[arg-type]  # RunOptions fields of several types, passed through
    return MigratedSchema(opts, tmp_path / "schema"), counter


def test_migrates_once_however_many_servers_and_threads_ask(tmp_path: Path) -> None:
    schema, counter = schema_for(tmp_path)
    threads = [threading.Thread(target=schema.ensure, args=(lambda _line: None,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    schema.ensure(lambda _line: None)
    runs = counter.read_text().splitlines()
    assert len(runs) == 1
    assert runs[0] == f"sqlite+aiosqlite:///{schema.template}"


def test_every_server_gets_its_own_copy_of_the_migrated_database(tmp_path: Path) -> None:
    schema, _ = schema_for(tmp_path)
    schema.ensure(lambda _line: None)
    copies = []
    for n in range(2):
        workdir = tmp_path / f"s{n}"
        workdir.mkdir()
        assert schema.server_env(workdir) == {"REFAPP_MIGRATE_ON_START": "false"}
        copies.append(workdir / "refapp.db")
    with sqlite3.connect(copies[0]) as db:
        assert db.execute("select version_num from alembic_version").fetchall() == [("0001",)]
        db.execute("insert into alembic_version values ('changed')")
    with sqlite3.connect(copies[1]) as db:  # a copy, not a shared file
        assert db.execute("select version_num from alembic_version").fetchall() == [("0001",)]


def test_a_shared_database_is_migrated_once_and_not_copied(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/x"
    schema, counter = schema_for(tmp_path, backend="postgres", database_url=url)
    schema.ensure(lambda _line: None)
    schema.ensure(lambda _line: None)
    assert counter.read_text().splitlines() == [url]
    workdir = tmp_path / "s0"
    workdir.mkdir()
    assert schema.server_env(workdir) == {"REFAPP_MIGRATE_ON_START": "false"}
    assert not (workdir / "refapp.db").exists()


def test_an_app_without_migrations_starts_on_an_empty_database(tmp_path: Path) -> None:
    opts = RunOptions(server_overrides={"migrate_cmd": None, "app": "stub:create_app"})
    schema = MigratedSchema(opts, tmp_path / "schema")
    assert migrate_cmd_for(opts) is None
    schema.ensure(lambda _line: None)
    assert not (tmp_path / "schema").exists()
    assert schema.server_env(tmp_path) == {}


def test_a_failed_migration_is_an_invalid_run_with_the_log(tmp_path: Path) -> None:
    opts = RunOptions(migrate_cmd=("-c", "import sys; print('no such revision'); sys.exit(4)"))
    schema = MigratedSchema(opts, tmp_path / "schema")
    with pytest.raises(ServerError, match="exit 4") as err:
        schema.ensure(lambda _line: None)
    assert "no such revision" in str(err.value)
    assert err.value.exit_code == 3
