"""SIGTERM (a CI runner cancelling the job) ends a harness command as Ctrl-C does: servers stopped."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from harness import exitcodes
from tests.utils.stub_asgi import write_stub_app

PLAIN_LOCUSTFILE = """
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def root(self):
        self.client.get("/")
"""


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout_s: float) -> tuple[list[str], re.Match[str]]:
    """Lines of ``proc``'s stdout up to the first that matches ``pattern`` (bounded in time)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=1.0):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(pattern, line)
            if found:
                return lines, found
    raise AssertionError(f"no line matching {pattern!r} within {timeout_s} s:\n{''.join(lines)[-3000:]}")


def test_sigterm_stops_the_servers_a_load_run_started(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text(PLAIN_LOCUSTFILE)
    app = write_stub_app(tmp_path, "sigtermapp")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "load", "run", "-f", "locustfile.py", "--app", app, "--arm", "a",
         "--arm", "b:STUB_BODY=b", "--users", "2", "--rounds", "50", "--round-seconds", "2", "--warmup", "0",
         "-o", "out"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NO_COLOR": "1", "STUB_BODY": "a"})
    pids: list[int] = []
    try:
        lines, _ = _read_until(proc, r"round 1/50 done", timeout_s=120)
        pids += [int(p) for p in re.findall(r"ready at http://\S+ \(pid (\d+)\)", "".join(lines))]
        assert len(pids) == 2, "".join(lines)
        assert all(psutil.pid_exists(pid) for pid in pids)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        # Before: Python's default SIGTERM ended the command with no clean-up (exit -15), and both
        # servers (in sessions of their own) lived on.
        assert proc.returncode == exitcodes.INTERRUPTED, out[-3000:]
        assert "interrupted" in out
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_running(pid) for pid in pids):
            time.sleep(0.2)
        assert not [pid for pid in pids if _running(pid)], "servers still running after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in pids:  # the test must not leave them behind either
            if _running(pid):
                os.killpg(pid, signal.SIGKILL)  # each server leads its own session


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
