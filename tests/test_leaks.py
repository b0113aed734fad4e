"""The suite's leak check (tests/utils/leaks.py) fails a test that leaves a thread, a child process or a
listening socket behind, and leaves alone what is released in time or owned by a wider fixture."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

INNER = '''
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tests.utils.leaks

tests.utils.leaks.GRACE_S = 1.0  # keep the self-test short; the suite's grace is longer
FOREVER = threading.Event()


@pytest.fixture(scope="session")
def session_worker():
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="session-owned", daemon=True)
    worker.start()
    yield worker
    stop.set()
    worker.join()


def test_clean():
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()


def test_session_fixture_resources_are_not_the_tests(session_worker):
    assert session_worker.is_alive()


def test_thread_still_stopping_gets_its_grace():
    threading.Thread(target=time.sleep, args=(0.2,), name="stopping", daemon=True).start()


def test_leaks_thread():
    threading.Thread(target=FOREVER.wait, name="leaked-thread", daemon=True).start()


def test_leaks_process():
    proc = subprocess.Popen(["sleep", "120"])
    Path(os.environ["LEAKED_PID_FILE"]).write_text(str(proc.pid))


@pytest.fixture(scope="session")
def session_pool():
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="session-pool")
    pool.submit(time.sleep, 0).result()  # the pool has a thread before any test uses it
    yield pool
    pool.shutdown(wait=True)


def test_session_pool_growing_in_a_test_is_not_the_tests(session_pool):
    both = threading.Barrier(3)  # two jobs at once: the pool must add a thread during this test
    jobs = [session_pool.submit(both.wait, 10) for _ in range(2)]
    both.wait(10)
    for job in jobs:
        job.result()


POOLS = []


def test_leaks_pool():
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="leaked-pool")
    pool.submit(time.sleep, 0).result()
    POOLS.append(pool)


SERVERS = []


def test_leaks_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    SERVERS.append(server)
'''


def test_leak_check_fails_exactly_the_leaking_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    pytester.makepyfile(test_inner=textwrap.dedent(INNER))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pid_file = tmp_path / "leaked.pid"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("LEAKED_PID_FILE", str(pid_file))
    try:
        result = pytester.runpytest_subprocess(
            "-p", "tests.utils.leaks", "-p", "no:cacheprovider", "-q", "-rE", "test_inner.py", timeout=120,
        )
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    result.assert_outcomes(passed=8, errors=4)
    errors = "\n".join(line for line in result.outlines if line.startswith("ERROR"))
    assert "test_leaks_thread" in errors
    assert "test_leaks_process" in errors
    assert "test_leaks_port" in errors
    assert "test_leaks_pool" in errors
    out = result.stdout.str()
    assert "thread 'leaked-thread'" in out
    assert "child process" in out
    assert "sleep 120" in out
    assert "listening socket, port" in out
    assert "session-owned" not in out
    assert "'leaked-pool" in out
    assert "session-pool" not in out
    assert "'stopping'" not in out
