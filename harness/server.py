"""Start the target's app as a real process, wait until it is ready, and always tear it down.

Used by the load runner (``load.runner``), ``harness contract fuzz`` and integration tests::

    with ServerProcess(ServerConfig(app="pkg.main:app"), log_path=tmp / "server.log") as srv:
        httpx.get(f"{srv.base_url}/openapi.json")
        srv.pid, srv.worker_pids()  # for CPU/RSS sampling with psutil

Only loopback: the server always binds 127.0.0.1 on a free port. The server runs in its own
process group (session) so that teardown reaches uvicorn/gunicorn workers too: SIGTERM to the
group, then SIGKILL after a bound. Output goes to a log file, whose tail is quoted on failure.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from harness import exitcodes

HOST = "127.0.0.1"
ServerKind = Literal["uvicorn", "gunicorn", "command"]
_BASIC_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "TZ")


class ServerError(exitcodes.HarnessError):
    """The server could not be started, did not become ready, or died."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=exitcodes.INVALID_RUN)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What to start. ``env`` is layered over the caller's variables with a ``passthrough`` prefix."""

    app: str  # MODULE:ATTR, an app instance or a factory (uvicorn tells them apart; ``factory`` forces it)
    server: ServerKind = "uvicorn"
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    factory: bool | None = None
    gunicorn_conf: str | None = None  # None: gunicorn with uvicorn workers and no config file
    command_template: str | None = None  # server "command": argv template with {host} {port} {python}
    #: Full argv for migrations; ``None`` skips them. Only run for uvicorn by default.
    migrate_cmd: Sequence[str] | None = None
    migrate_for_gunicorn: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    python: str = sys.executable
    ready_path: str = "/openapi.json"
    passthrough: tuple[str, ...] = ()
    ready_timeout_s: float = 60.0
    migrate_timeout_s: float = 120.0
    stop_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.server not in ("uvicorn", "gunicorn", "command"):
            raise exitcodes.HarnessError(f"unknown server kind {self.server!r}")
        if self.server == "command" and not self.command_template:
            raise exitcodes.HarnessError("server kind 'command' needs a command template with {host} and {port}")
        if self.workers < 1:
            raise exitcodes.HarnessError("workers must be >= 1")
        if self.server == "uvicorn" and self.workers != 1:
            raise exitcodes.HarnessError("uvicorn is run with one worker; use gunicorn for more")

    def key(self) -> tuple[str, int, tuple[tuple[str, str], ...]]:
        """Arms whose configs have equal keys share one server process."""
        return (self.server, self.workers, tuple(sorted(self.env.items())))

    def command(self, port: int, host: str = HOST) -> list[str]:
        if self.server == "command":
            assert self.command_template is not None
            return [part.format(host=host, port=port, python=self.python)
                    for part in shlex.split(self.command_template)]
        if self.server == "uvicorn":
            # uvicorn's access log is a cost the measurement would silently include. Without
            # --factory, uvicorn itself tells an app factory from an app instance.
            return [self.python, "-m", "uvicorn", *(["--factory"] if self.factory else []), self.app,
                    "--host", host, "--port", str(port), "--workers", "1", "--no-access-log"]
        conf = ["-c", self.gunicorn_conf] if self.gunicorn_conf else ["-k", "uvicorn_worker.UvicornWorker"]
        # uvicorn's worker detects a factory the same way; "()" makes gunicorn call it when forced.
        return [self.python, "-m", "gunicorn", *conf, "-w", str(self.workers), "-b", f"{host}:{port}",
                f"{self.app}()" if self.factory else self.app]


def free_port() -> int:
    """A free loopback TCP port (racy by nature; ``ServerProcess`` retries if the bind fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def build_env(overrides: Mapping[str, str], base: Mapping[str, str] | None = None,
              passthrough: tuple[str, ...] = ()) -> dict[str, str]:
    """Basics + ``passthrough``-prefixed variables from ``base`` (default ``os.environ``) + ``overrides``."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if k in _BASIC_ENV or (passthrough and k.startswith(passthrough))}
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def http_get(base_url: str, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Tiny GET without proxies or extra dependencies (loopback only)."""
    host_port = base_url.removeprefix("http://").rstrip("/")
    host, _, port = host_port.partition(":")
    if host != HOST:
        raise exitcodes.HarnessError(f"refusing non-loopback target {base_url}")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def migrate_command(config: ServerConfig) -> list[str]:
    if config.migrate_cmd is None:
        raise ServerError("this server configuration has no migration command")
    return list(config.migrate_cmd)


def run_migrations(config: ServerConfig, env: Mapping[str, str], log: IO[bytes], log_path: Path) -> None:
    """Run ``config.migrate_cmd`` with ``env`` (bounded by ``migrate_timeout_s``); output to ``log``."""
    try:
        result = subprocess.run(migrate_command(config), cwd=config.cwd, env=dict(env), stdout=log,
                                stderr=subprocess.STDOUT, timeout=config.migrate_timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"migrations timed out after {config.migrate_timeout_s:.0f}s (log: {log_path})") from exc
    if result.returncode != 0:
        log.flush()
        raise ServerError(f"migrations failed (exit {result.returncode}); log {log_path}:\n{tail(log_path)}")


class ServerProcess:
    """Context manager around one app server process (and its workers)."""

    def __init__(self, config: ServerConfig, log_path: Path, *, port: int | None = None,
                 bind_attempts: int = 3) -> None:
        self.config = config
        self.log_path = Path(log_path)
        self._requested_port = port
        self._bind_attempts = max(1, bind_attempts)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None

    # -- public surface -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise ServerError("server not started")
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerError("server not started")
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def worker_pids(self) -> list[int]:
        """PIDs of the server's children (uvicorn reloader-less: none; gunicorn: its workers)."""
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def all_pids(self) -> list[int]:
        return [self.pid, *self.worker_pids()]

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        return http_get(self.base_url, path, timeout=timeout)

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = build_env(self.config.env, passthrough=self.config.passthrough)
        try:
            if self.config.migrate_cmd is not None and (
                self.config.server == "uvicorn" or self.config.migrate_for_gunicorn
            ):
                self._migrate(env)
            last_error: ServerError | None = None
            for _ in range(self._bind_attempts):
                self.port = self._requested_port or free_port()
                try:
                    self._spawn(env)
                    self._wait_ready()
                    return
                except ServerError as exc:
                    last_error = exc
                    self._terminate()
                    if self._requested_port is not None or "address already in use" not in str(exc).lower():
                        break
            assert last_error is not None
            raise last_error
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            self._terminate()
        finally:
            if self._log is not None:
                with contextlib.suppress(OSError):
                    self._log.close()
                self._log = None

    # -- internals ------------------------------------------------------------------------
    def _write_log(self, line: str) -> None:
        if self._log is not None:
            self._log.write(f"[harness.server] {line}\n".encode())
            self._log.flush()

    def _migrate(self, env: dict[str, str]) -> None:
        assert self._log is not None
        self._write_log(f"migrate: {shlex.join(migrate_command(self.config))}")
        run_migrations(self.config, env, self._log, self.log_path)

    def _spawn(self, env: dict[str, str]) -> None:
        assert self.port is not None
        cmd = self.config.command(self.port)
        self._write_log(f"start: {shlex.join(cmd)}")
        self._proc = subprocess.Popen(cmd, cwd=self.config.cwd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.ready_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise ServerError(f"{self.config.server} exited with {self._proc.returncode} before "
                                  f"becoming ready; log {self.log_path}:\n{tail(self.log_path)}")
            try:
                status, body = self.get(self.config.ready_path, timeout=2.0)
                if 200 <= status < 300:
                    self._write_log(f"ready at {self.base_url}")
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise ServerError(f"server not ready within {self.config.ready_timeout_s:.0f}s ({last}); "
                          f"log {self.log_path}:\n{tail(self.log_path)}")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # start_new_session=True made the server the leader of its own group: pgid == pid.
        pgid = proc.pid
        signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.config.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self._write_log("did not stop after SIGTERM; sending SIGKILL")
        # Kill whatever is left in the group (workers that outlived their master, too).
        signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
        self._write_log(f"stopped (exit {proc.returncode})")


def signal_group(pgid: int, sig: signal.Signals) -> None:
    if pgid == os.getpgrp():  # never our own group
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.contextmanager
def running_server(config: ServerConfig, log_path: Path) -> Iterator[ServerProcess]:
    """Functional spelling of ``with ServerProcess(...)``."""
    with ServerProcess(config, log_path) as srv:
        yield srv
