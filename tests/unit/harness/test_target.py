"""harness.target: [tool.harness] discovery, path resolution, CLI overrides and validation."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.exitcodes import HarnessError
from harness.init import find_app, simple_gets
from harness.target import find_config, load_target

TABLE = """
[tool.harness]
app = "svc.main:create_app"
app_dir = "src"
contract = "api/openapi.json"
migrate = "{python} -m svc.migrate"
env = { SVC_DB = "sqlite:///{workdir}/db.sqlite" }

[tool.harness.experiments.smoke]
locustfile = "perf/locustfile.py"
users = 5

[[tool.harness.experiments.smoke.arms]]
name = "a"
bound = { kind = "littles_law", latency_ms = 100 }

[[tool.harness.experiments.smoke.arms]]
name = "b"
env = { SVC_FEATURE = "on" }
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n' + TABLE)
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path


def test_found_by_walking_up_and_paths_relative_to_the_file(repo: Path) -> None:
    target = load_target(repo / "src" / "deep")
    assert target.config_file == repo / "pyproject.toml"
    assert target.root == repo
    assert target.app_dir == repo / "src"
    assert target.contract == repo / "api" / "openapi.json"
    assert target.experiments["smoke"].locustfile == repo / "perf" / "locustfile.py"
    assert target.command(target.migrate or "") == [sys.executable, "-m", "svc.migrate"]


def test_cli_flags_override_relative_to_the_cwd(repo: Path, tmp_path: Path) -> None:
    cwd = repo / "src" / "deep"
    target = load_target(cwd, {"app": "svc.main:create_app", "contract": "x.json", "app_dir": None})
    assert target.contract == cwd / "x.json"
    assert target.app_dir == repo / "src"
    assert target.migrate is not None
    other = load_target(cwd, {"app": "other:app"})
    assert other.app == "other:app"
    # another app: nothing of the configured app's table applies to it
    assert (other.config_file, other.migrate, other.env, other.experiments) == (None, None, {}, {})
    assert other.app_dir == cwd


def test_harness_toml_and_no_config(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('app = "main:app"\n')
    assert load_target(tmp_path).app == "main:app"
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    assert find_config(empty) is not None  # the parent's harness.toml
    bare = load_target(empty, use_config=False)
    assert bare.app is None
    with pytest.raises(HarnessError, match="--app"):
        bare.require_app()


def test_a_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(TABLE)
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    assert load_target(sub).config_file == tmp_path / "pyproject.toml"


@pytest.mark.parametrize(("table", "message"), [
    ('app = "no-colon"', "MODULE:ATTR"),
    ('app = "a:b"\ntypo_key = 1', "typo_key"),
    ('app = "a:b"\nmatrix = ["nope"]', "unknown experiment"),
    ('app = "a:b"\n[serve]\nkind = "command"', "serve.command"),
    ('app = "a:b"\n[experiments.x]\nlocustfile = "l.py"\narms = [{name = "a", bound = {kind = "thread_pool"}}]',
     "threads"),
    ('app = "a:b"\n[experiments.x]\nlocustfile = "l.py"\narms = [{name = "a"}, {name = "a"}]', "unique"),
    ('app = "a:b"\n[experiments.x]\nlocustfile = "l.py"\narms = [{name = "a", processes = ["worker"]}]',
     "unknown process(es) worker"),
    ('app = "a:b"\n[serve]\nprocesses = ["flower"]\n[processes.worker]\ncommand = "w"', "unknown process(es) flower"),
])
def test_invalid_tables_are_usage_errors_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "harness.toml").write_text(table + "\n")
    with pytest.raises(HarnessError, match=re.escape(message)) as err:
        load_target(tmp_path)
    assert err.value.exit_code == 2


def test_a_broken_toml_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.harness\n")
    with pytest.raises(HarnessError, match=r"pyproject\.toml"):
        load_target(tmp_path)


def test_this_repository_declares_the_reference_app() -> None:
    target = load_target(Path(__file__).resolve().parents[3])
    assert target.app == "reference_app.main:create_app"
    assert target.run_matrix() == ["io", "cache", "ratelimit", "middleware", "server"]
    assert {"downstream", "journey"} <= set(target.experiments)


def test_init_finds_an_app_instance_before_a_factory(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "factory.py").write_text("from fastapi import FastAPI\ndef make() -> FastAPI:\n    ...\n")
    assert find_app(tmp_path) == "svc.factory:make"
    (tmp_path / "svc" / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    assert find_app(tmp_path) == "svc.main:app"
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    assert find_app(tmp_path) == "svc.main:app"


def test_init_starter_tasks_are_the_parameter_free_gets_without_credentials() -> None:
    doc = {"paths": {
        "/ping": {"get": {}},
        "/items/{id}": {"get": {}},
        "/search": {"get": {"parameters": [{"name": "q", "in": "query", "required": True}]}},
        "/me": {"get": {"security": [{"bearer": []}]}},
        "/items": {"get": {}, "post": {}},
    }}
    simple, other = simple_gets(doc)
    assert simple == ["/items", "/ping"]
    assert set(other) == {"GET /items/{id}", "GET /search", "GET /me", "POST /items"}
