"""``harness serve --with-worker``: the app and the target's companion processes, all stopped on the way out.

Real processes (sleepers standing in for the server and a worker): the point is the process handling,
Ctrl-C and a companion that dies, not what the processes serve.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

SLEEP = "import sys, time; time.sleep(120)"
TABLE = f"""
app = "svc:app"
[serve]
kind = "command"
command = "{{python}} -c '{SLEEP}' {{host}} {{port}}"
[processes.worker]
command = "{{python}} -c '{SLEEP}'"
[processes.monitor]
command = "{{python}} -c '{{CMD}}'"
"""


def start(tmp_path: Path, monitor: str) -> tuple[subprocess.Popen[bytes], psutil.Process]:
    """Started with a stderr pipe: the caller reads it with communicate(), which also closes it."""
    (tmp_path / "harness.toml").write_text(TABLE.replace("{CMD}", monitor))
    harness = Path(sys.executable).parent / "harness"
    proc = subprocess.Popen([str(harness), "serve", "--with-worker", "--no-migrate"], cwd=tmp_path,
                            stderr=subprocess.PIPE)
    return proc, psutil.Process(proc.pid)


def children_when(parent: psutil.Process, n: int) -> list[psutil.Process]:
    for _ in range(300):  # a hang guard for a busy machine
        kids = parent.children()
        if len(kids) >= n:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"expected {n} children, saw {parent.children()}")


def test_ctrl_c_stops_the_server_and_every_companion(tmp_path: Path) -> None:
    proc, parent = start(tmp_path, SLEEP)
    try:
        kids = children_when(parent, 3)  # server, worker, monitor
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0
    _, alive = psutil.wait_procs(kids, timeout=10)
    assert alive == []
    assert b"started worker" in err


def test_a_companion_that_dies_stops_the_rest_and_fails(tmp_path: Path) -> None:
    proc, parent = start(tmp_path, "import time; time.sleep(1); raise SystemExit(4)")
    try:
        kids = children_when(parent, 3)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 3
    _, alive = psutil.wait_procs(kids, timeout=10)
    assert alive == []
    assert b"monitor exited with 4" in err


def test_no_companions_declared_is_refused(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text('app = "svc:app"\n')
    done = subprocess.run([str(Path(sys.executable).parent / "harness"), "serve", "--with-worker", "--no-migrate"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "declares no [tool.harness.processes]" in done.stderr
