"""load.servers: the target's migrate command runs once per run, every server starts from a copy,
and the target's env, backend URLs, set-up command and URL arms are handled without naming any app.

The migration command is a stand-in script that creates a table in the database named by the
target's APP_DATABASE_URL and appends a line to a counter file, so the tests see how often it ran,
against what, and what each server's copy contains.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.exitcodes import HarnessError
from harness.server import ServerError
from harness.target import Backend, Target
from load.runner import RunOptions
from load.servers import MigratedSchema, base_server_env, check_url, run_setup

FAKE_MIGRATION = """
import os, sqlite3, sys
url = os.environ["APP_DATABASE_URL"]
with open(sys.argv[1], "a") as fh:
    fh.write(url + "\\n")
if url.startswith("sqlite"):
    db = sqlite3.connect(url.split(":///", 1)[1])
    db.execute("create table if not exists alembic_version (version_num text)")
    db.execute("insert into alembic_version values ('0001')")
    db.commit()
"""


def make_target(tmp_path: Path, **fields: Any) -> Target:
    values: dict[str, Any] = {
        "root": tmp_path, "app": "stub:app", "app_dir": tmp_path,
        "env": {"APP_DATABASE_URL": "sqlite+aiosqlite:///{workdir}/app.db", "APP_SECRET": "{random}"},
        "backend": Backend(database_url_env="APP_DATABASE_URL"),
    }
    values.update(fields)
    return Target(**values)


def schema_for(tmp_path: Path, **options: Any) -> tuple[MigratedSchema, Path]:
    counter = tmp_path / "migrations.txt"
    script = tmp_path / "fake_migrate.py"
    script.write_text(FAKE_MIGRATION)
    target = make_target(tmp_path, migrate=f"{{python}} {script} {counter}")
    return MigratedSchema(target, RunOptions(**options), tmp_path / "schema"), counter


def test_migrates_once_however_many_servers_and_threads_ask(tmp_path: Path) -> None:
    schema, counter = schema_for(tmp_path)
    threads = [threading.Thread(target=schema.ensure, args=(lambda _line: None,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    schema.ensure(lambda _line: None)
    runs = counter.read_text().splitlines()
    assert runs == [f"sqlite+aiosqlite:///{tmp_path / 'schema'}/app.db"]


def test_every_server_gets_its_own_copy_of_the_migrated_database(tmp_path: Path) -> None:
    schema, _ = schema_for(tmp_path)
    schema.ensure(lambda _line: None)
    copies = []
    for n in range(2):
        workdir = tmp_path / f"s{n}"
        workdir.mkdir()
        schema.seed_workdir(workdir)
        copies.append(workdir / "app.db")
    with sqlite3.connect(copies[0]) as db:
        assert db.execute("select version_num from alembic_version").fetchall() == [("0001",)]
        db.execute("insert into alembic_version values ('changed')")
    with sqlite3.connect(copies[1]) as db:  # a copy, not a shared file
        assert db.execute("select version_num from alembic_version").fetchall() == [("0001",)]


def test_a_shared_database_is_migrated_once_into_the_declared_variable(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/x"
    schema, counter = schema_for(tmp_path, backend="postgres", database_url=url)
    schema.ensure(lambda _line: None)
    schema.ensure(lambda _line: None)
    assert counter.read_text().splitlines() == [url]


def test_env_placeholders_and_backend_urls(tmp_path: Path) -> None:
    target = make_target(tmp_path)
    env = base_server_env(target, RunOptions(), tmp_path / "s0", "tok")
    assert env == {"APP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's0'}/app.db", "APP_SECRET": "tok"}
    with pytest.raises(HarnessError, match="redis_url_env"):
        base_server_env(target, RunOptions(redis_url="redis://127.0.0.1:6379/0"), tmp_path, "tok")
    with pytest.raises(HarnessError, match="--database-url"):
        base_server_env(target, RunOptions(backend="postgres"), tmp_path, "tok")


def test_an_app_without_migrations_starts_on_an_empty_database(tmp_path: Path) -> None:
    schema = MigratedSchema(make_target(tmp_path), RunOptions(), tmp_path / "schema")
    schema.ensure(lambda _line: None)
    assert not (tmp_path / "schema").exists()
    workdir = tmp_path / "s0"
    workdir.mkdir()
    schema.seed_workdir(workdir)
    assert list(workdir.iterdir()) == []


def test_a_failed_migration_is_an_invalid_run_with_the_log(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import sys; print('no such revision'); sys.exit(4)\n")
    schema = MigratedSchema(make_target(tmp_path, migrate=f"{{python}} {script}"), RunOptions(), tmp_path / "schema")
    with pytest.raises(ServerError, match="exit 4") as err:
        schema.ensure(lambda _line: None)
    assert "no such revision" in str(err.value)
    assert err.value.exit_code == 3


def test_setup_command_output_becomes_locust_options(tmp_path: Path) -> None:
    script = tmp_path / "setup.py"
    script.write_text("import json, sys\nprint('noise')\n"
                      "print(json.dumps({'item_ids': sys.argv[1], 'seed': sys.argv[2]}))\n")
    target = make_target(tmp_path)
    options = run_setup(target, f"{{python}} {script} {{url}} {{seed}}", "http://127.0.0.1:9", 7, tmp_path / "log")
    assert options == {"HARNESS_ITEM_IDS": "http://127.0.0.1:9", "HARNESS_SEED": "7"}
    script.write_text("print('not json')\n")
    with pytest.raises(HarnessError, match="JSON") as err:
        run_setup(target, f"{{python}} {script}", "http://127.0.0.1:9", 0, tmp_path / "log")
    assert err.value.exit_code == 3


def test_a_url_arm_that_does_not_answer_is_exit_3_naming_the_url() -> None:
    from harness.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(HarnessError, match=url) as err:
        check_url("a", url, timeout_s=2)
    assert err.value.exit_code == 3
    with pytest.raises(HarnessError, match="loopback") as err:
        check_url("b", "http://example.com")
    assert err.value.exit_code == 2
