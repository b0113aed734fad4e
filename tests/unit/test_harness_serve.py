"""``harness serve`` argument handling (no exec: ``os.execve`` is intercepted) and ``harness --help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import exitcodes, serve
from harness.cli import build_parser, main

VENV_BIN = Path(sys.executable).parent


class Exec:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], dict[str, str]]] = []

    def __call__(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        self.calls.append((path, argv, env))


@pytest.fixture
def execve(monkeypatch: pytest.MonkeyPatch) -> Exec:
    fake = Exec()
    monkeypatch.setattr(serve.os, "execve", fake)
    return fake


@pytest.fixture
def migrations(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: list[str], check: bool, **_: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(serve.subprocess, "run", run)
    return calls


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.server, args.host, args.port, args.workers, args.no_migrate) == (
        None, "127.0.0.1", 8000, 1, False)  # None: the target's serve.kind


def test_serve_rejects_unknown_server(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args(["serve", "--server", "hypercorn"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_serve_rejects_non_integer_port() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "eighty"])


def test_zero_workers_is_a_usage_error(execve: Exec, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == exitcodes.USAGE
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert execve.calls == []


def test_uvicorn_migrates_then_execs(execve: Exec, migrations: list[list[str]]) -> None:
    """This repository's [tool.harness]: the reference app's factory and its migrate command."""
    main(["serve", "--port", "8123", "--workers", "2"])  # execve is faked, so this returns
    assert migrations == [[sys.executable, "-m", "reference_app.migrate", "upgrade"]]
    (path, argv, _env), = execve.calls
    assert path == sys.executable
    # no --factory: uvicorn tells a factory from an instance itself
    assert argv[1:4] == ["-m", "uvicorn", "reference_app.main:create_app"]
    joined = " ".join(argv)
    for flag in ("--host 127.0.0.1", "--port 8123", "--workers 2"):
        assert flag in joined


def test_uvicorn_no_migrate(execve: Exec, migrations: list[list[str]]) -> None:
    main(["serve", "--no-migrate"])
    assert migrations == []
    assert len(execve.calls) == 1


def test_failed_migration_is_an_invalid_run(execve: Exec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve.subprocess, "run", lambda argv, check, **_: subprocess.CompletedProcess(argv, 1))
    assert main(["serve"]) == exitcodes.INVALID_RUN
    assert execve.calls == []


@pytest.mark.parametrize(("flags", "migrated"), [([], 1), (["--no-migrate"], 0)])
def test_gunicorn_gets_its_conf_and_the_migration_first(
    execve: Exec, migrations: list[list[str]], flags: list[str], migrated: int
) -> None:
    main(["serve", "--server", "gunicorn", "--workers", "2", "--host", "0.0.0.0", *flags])  # noqa: S104
    (_, argv, _env), = execve.calls
    assert len(migrations) == migrated
    assert argv[1:4] == ["-m", "gunicorn", "-c"]
    assert Path(argv[4]).name == "gunicorn.conf.py"
    assert "-w 2 -b 0.0.0.0:8000" in " ".join(argv)


def test_serve_any_app_with_a_command_template(execve: Exec, migrations: list[list[str]], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "harness.toml").write_text(
        'app = "svc:app"\n[serve]\nkind = "command"\ncommand = "{python} -m hypercorn svc:app --bind {host}:{port}"\n')
    monkeypatch.chdir(tmp_path)
    main(["serve", "--port", "9001"])
    (_, argv, _env), = execve.calls
    assert migrations == []  # none configured
    assert argv == [sys.executable, "-m", "hypercorn", "svc:app", "--bind", "127.0.0.1:9001"]


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    exe = VENV_BIN / "harness"
    cmd: list[Any] = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_harness_help_exits_zero() -> None:
    done = _harness("--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert "exit codes" in done.stdout


def test_harness_serve_help_exits_zero() -> None:
    done = _harness("serve", "--help")
    assert done.returncode == 0, done.stderr
    assert "--server" in done.stdout
    assert "--workers" in done.stdout
