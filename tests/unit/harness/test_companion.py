"""harness.companion: companion processes start, report an early exit, and are stopped with their children."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.companion import CompanionProcess
from harness.server import ServerError

# A parent that starts a child and both sleep: stopping must reach the child too.
PARENT = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
          "time.sleep(60)")


def test_started_alive_then_stopped_with_its_children(tmp_path: Path) -> None:
    proc = CompanionProcess("worker", [sys.executable, "-c", PARENT], env=dict(os.environ), cwd=tmp_path,
                            log_path=tmp_path / "w.log", stop_timeout_s=5)
    proc.start()
    try:
        assert proc.alive()
        for _ in range(300):  # a hang guard: the child appears within moments
            if len(proc.pids()) == 2:
                break
            time.sleep(0.1)
        pids = proc.pids()
        assert len(pids) == 2
        proc.check()  # running: nothing to report
    finally:
        proc.stop()
    assert not proc.alive()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_an_exited_process_is_reported_with_its_log(tmp_path: Path) -> None:
    proc = CompanionProcess("worker", [sys.executable, "-c", "print('bad broker'); raise SystemExit(3)"],
                            env=dict(os.environ), cwd=tmp_path, log_path=tmp_path / "w.log")
    proc.start()
    try:
        for _ in range(300):  # psutil's wait would reap it and hide the exit code from Popen
            if not proc.alive():
                break
            time.sleep(0.1)
        with pytest.raises(ServerError, match=r"(?s)exited with 3.*bad broker"):
            proc.check()
    finally:
        proc.stop()
