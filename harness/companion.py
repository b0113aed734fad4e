"""Companion processes (``[tool.harness.processes]``): a queue worker, a monitor, started next to a server.

Unlike a server they have no readiness URL: started is alive, and a companion that exits early is
reported, since an arm whose worker died measures a different system. Each runs in its own session so
that stopping it reaches its children (Celery's pool processes, for instance).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from harness.server import ServerError, signal_group, tail


class CompanionProcess:
    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path,
                 stop_timeout_s: float = 10.0) -> None:
        self.name, self.argv, self.env, self.cwd, self.log_path = name, list(argv), dict(env), cwd, log_path
        self.stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerError(f"process {self.name} not started")
        return self._proc.pid

    def pids(self) -> list[int]:
        import psutil

        if self._proc is None:
            return []
        try:
            return [self.pid, *(c.pid for c in psutil.Process(self.pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self.stop()
            raise ServerError(f"process {self.name} could not start: {exc}") from exc

    def check(self) -> None:
        """Raise if the process has exited (its log's tail in the message)."""
        code = self.returncode()
        if self._proc is not None and code is not None:
            raise ServerError(f"process {self.name} exited with {code}; log {self.log_path}:\n{tail(self.log_path)}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            signal_group(proc.pid, signal.SIGTERM)  # its own session: pgid == pid
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.stop_timeout_s)
            signal_group(proc.pid, signal.SIGKILL)  # whatever is left in the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
