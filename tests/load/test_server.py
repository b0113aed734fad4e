"""harness.server against real processes: a tiny ASGI app under uvicorn (no reference_app needed)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.server import ServerConfig, ServerError, ServerProcess, build_env, free_port
from tests.utils.stub_asgi import write_stub_app


@pytest.fixture
def stub_dir(tmp_path: Path) -> Path:
    write_stub_app(tmp_path, "stubapp_srv")
    return tmp_path


def config(stub_dir: Path, **kw: object) -> ServerConfig:
    values: dict[str, object] = {"app": "stubapp_srv:create_app", "cwd": stub_dir, "migrate_cmd": None,
                                 "ready_timeout_s": 20.0, "stop_timeout_s": 5.0}
    values.update(kw)
    return ServerConfig(**values)  # type: ignore[arg-type]


def test_starts_serves_and_tears_down(stub_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(config(stub_dir, env={"STUB_BODY": "hello-env"}), log_path=log) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        status, body = srv.get("/anything", timeout=30)  # generous: not a test of speed
        assert (status, body) == (200, b"hello-env")  # the configured env reached the server
        pid = srv.pid
        assert srv.alive()
        assert psutil.pid_exists(pid)
        assert srv.all_pids()[0] == pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "ready at" in log.read_text()


def test_early_exit_is_reported_with_the_log_tail(stub_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ServerError) as err, ServerProcess(config(stub_dir, env={"STUB_MODE": "crash"}),
                                                          log_path=tmp_path / "s.log"):
        pass
    assert "before becoming ready" in str(err.value)
    assert err.value.exit_code == 3


def test_readiness_wait_is_bounded(stub_dir: Path, tmp_path: Path) -> None:
    # The stub never becomes ready (an injected wait without end); the configured readiness timeout
    # must end it. The bound is relative to the configuration, not a promise about this machine:
    # a correct run takes the 2 s timeout + one probe (2 s) + stopping (stop_timeout_s, then SIGKILL
    # and 5 s), ~15 s at worst, while a hang, or a start() that ignored ready_timeout_s for the
    # ServerConfig default (60 s), would take 60 s or more.
    cfg = config(stub_dir, env={"STUB_MODE": "unready"}, ready_timeout_s=2.0)
    default_ready_s = ServerConfig(app="x:app").ready_timeout_s
    assert default_ready_s >= 20 * cfg.ready_timeout_s  # so the bound below can tell them apart
    srv = ServerProcess(cfg, log_path=tmp_path / "s.log")
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="not ready within 2s"):
        srv.start()
    assert time.monotonic() - t0 < 0.75 * default_ready_s
    assert not srv.alive()


def test_failed_migration_stops_before_serving(stub_dir: Path, tmp_path: Path) -> None:
    cfg = config(stub_dir, migrate_cmd=(sys.executable, "-c", "raise SystemExit(4)"))
    with pytest.raises(ServerError, match="migrations failed"):
        ServerProcess(cfg, log_path=tmp_path / "s.log").start()


def test_env_passes_only_the_declared_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFAPP_X", "1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    env = build_env({"REFAPP_Y": "2"}, passthrough=("REFAPP_",))
    assert env["REFAPP_X"] == "1"
    assert env["REFAPP_Y"] == "2"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert "REFAPP_X" not in build_env({})  # nothing passes through unless declared


def test_commands() -> None:
    port = free_port()
    uv = ServerConfig(app="svc.main:app").command(port)
    assert uv[1:4] == ["-m", "uvicorn", "svc.main:app"]  # uvicorn detects a factory itself
    assert uv[uv.index("--host") + 1] == "127.0.0.1"
    assert ServerConfig(app="svc.main:make", factory=True).command(port)[1:4] == ["-m", "uvicorn", "--factory"]
    gu = ServerConfig(app="svc.main:make", server="gunicorn", workers=3, factory=True).command(port)
    assert gu[1:5] == ["-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker"]  # no config file: uvicorn workers
    assert gu[gu.index("-w") + 1] == "3"
    assert gu[gu.index("-b") + 1] == f"127.0.0.1:{port}"
    assert gu[-1] == "svc.main:make()"
    conf = ServerConfig(app="svc.main:app", server="gunicorn", gunicorn_conf="g.conf.py").command(port)
    assert conf[3:5] == ["-c", "g.conf.py"]
    cmd = ServerConfig(app="svc:app", server="command",
                       command_template="{python} -m hypercorn svc:app -b {host}:{port}")
    assert cmd.command(port)[1:] == ["-m", "hypercorn", "svc:app", "-b", f"127.0.0.1:{port}"]
    with pytest.raises(Exception, match="one worker"):
        ServerConfig(app="svc:app", server="uvicorn", workers=2)
    with pytest.raises(Exception, match="command template"):
        ServerConfig(app="svc:app", server="command")
