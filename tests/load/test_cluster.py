"""``harness load run --master-bind ... --expect-workers N`` with ``harness load worker`` processes.

Every process here is an independent subprocess with its own environment, as on separate machines,
connected over loopback: the run (the master), and the workers, which get the locustfile from the
master. Every wait is bounded (``communicate(timeout=...)``), so a hang fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.server import ServerConfig, ServerProcess, free_port
from tests.utils.stub_asgi import write_stub_app

pytestmark = [pytest.mark.load, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "load" / "profiles" / "hello.py"
RUN_TIMEOUT_S = 240

# Each request waits 5 ms, so 4 users offer at most 800 rps: far below what one Locust process drives,
# whatever the machine's speed (an instant stub saturated the local generator on a quiet machine, and
# a saturated run is rightly invalid).
STUB_ENV = {"STUB_DELAY_MS": "5"}


@pytest.fixture(scope="module")
def stub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("stub")
    cfg = ServerConfig(app=write_stub_app(root, "stub_cluster_app"), cwd=root, env=STUB_ENV, migrate_cmd=None,
                       ready_timeout_s=30)
    with ServerProcess(cfg, log_path=root / "server.log") as srv:
        yield srv.base_url


class Proc:
    """A subprocess whose output lines are collected as they come (to act on progress)."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.popen = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:
            for line in self.popen.stdout:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise AssertionError(f"{text!r} not seen:\n" + self.output())
            time.sleep(0.1)

    def wait(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout:.0f}s (a hang):\n" + self.output()) from None
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        self._reader.join(timeout=10)

    def output(self) -> str:
        return "\n".join(self.lines[-60:])


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()


def harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def run_argv(url: str, out: Path, port: int, *extra: str, rounds: int = 2, seconds: float = 2.0) -> list[str]:
    return harness("load", "run", "-f", str(HELLO), "--arm", f"hello={url}", "--users", "4",
                   "--rounds", str(rounds), "--round-seconds", str(seconds), "--warmup", "0", "-o", str(out),
                   "--master-bind", f"127.0.0.1:{port}", *extra)


def start_worker(procs: list[Proc], port: int, cwd: Path, name: str) -> Proc:
    # Each worker has its own environment and cwd, as on another machine; nothing but the master's
    # address is shared (the locustfile comes from the master).
    home = cwd / name
    home.mkdir()
    proc = Proc(harness("load", "worker", "--master", f"127.0.0.1:{port}", "--loglevel", "INFO"), home,
                {"HOME": str(home), "TMPDIR": str(home)})
    procs.append(proc)
    return proc


def results(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "results.json").read_text())
    return doc


def test_two_workers_give_a_local_runs_results_plus_per_worker_cpu(stub_url: str, tmp_path: Path,
                                                                     procs: list[Proc]) -> None:
    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "dist", port, "--expect-workers", "2", "--worker-timeout", "90"),
               tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    workers = [start_worker(procs, port, tmp_path, f"w{i}") for i in (1, 2)]
    assert run.wait(RUN_TIMEOUT_S) == 0, run.output()
    for w in workers:  # the master's end of the run ends its workers
        assert w.wait(30) == 0, w.output()
    dist = results(tmp_path / "dist")

    local = Proc(harness("load", "run", "-f", str(HELLO), "--arm", f"hello={stub_url}", "--users", "4",
                         "--rounds", "1", "--round-seconds", "1", "--warmup", "0", "-o", str(tmp_path / "local")),
                 tmp_path)
    procs.append(local)
    assert local.wait(RUN_TIMEOUT_S) == 0, local.output()
    plain = results(tmp_path / "local")

    assert set(dist) == set(plain)
    assert set(dist["config"]) == set(plain["config"]) | {"cluster"}
    assert dist["config"]["cluster"]["expect_workers"] == 2
    extra = {"workers", "workers_lost", "workers_live"}
    for r in dist["rounds"]:
        assert set(r) == set(plain["rounds"][0]) | extra
        assert r["requests"] > 0
        assert len(r["workers"]) == 2
        assert r["workers_lost"] == []
        for w in r["workers"].values():
            assert isinstance(w["cpu_percent"], float)  # from the worker's own heartbeats
            assert w["cpu_percent"] > 0.0
        assert r["generator_cpu_percent"] >= max(w["cpu_percent"] for w in r["workers"].values())
    assert dist["validity"]["valid"], dist["validity"]
    assert dist["summary"]["hello"]["rounds"] == 2


def test_a_worker_killed_mid_round_invalidates_that_round_and_the_run_goes_on(stub_url: str, tmp_path: Path,
                                                                              procs: list[Proc]) -> None:
    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "2", "--min-workers", "1",
                        rounds=3, seconds=4.0), tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    victim = start_worker(procs, port, tmp_path, "victim")
    start_worker(procs, port, tmp_path, "survivor")
    run.wait_for("round 1/3:  1", 120)  # measuring
    os.kill(victim.popen.pid, signal.SIGKILL)
    assert run.wait(RUN_TIMEOUT_S) == 0, run.output()
    doc = results(tmp_path / "out")
    excluded = [r for r in doc["rounds"] if r.get("excluded")]
    assert excluded, run.output()
    assert "lost" in excluded[0]["excluded"]
    later = [r for r in doc["rounds"] if r["index"] > excluded[-1]["index"]]
    assert later
    assert all(len(r["workers"]) == 1 and not r.get("excluded") for r in later)
    assert doc["summary"]["hello"]["rounds"] == 3 - len(excluded)
    assert any("left out" in note for note in doc["validity"]["notes"])


def test_losing_a_worker_below_min_workers_stops_with_exit_3(stub_url: str, tmp_path: Path,
                                                            procs: list[Proc]) -> None:
    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "2", rounds=3, seconds=4.0),
               tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    victim = start_worker(procs, port, tmp_path, "victim")
    start_worker(procs, port, tmp_path, "other")
    run.wait_for("round 1/3:  1", 120)
    os.kill(victim.popen.pid, signal.SIGKILL)
    assert run.wait(RUN_TIMEOUT_S) == 3, run.output()
    assert "fewer than --min-workers 2" in run.output()


def test_a_late_worker_is_waited_for_and_a_missing_one_times_out(stub_url: str, tmp_path: Path,
                                                                 procs: list[Proc]) -> None:
    port = free_port()
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "2", rounds=1, seconds=2.0),
               tmp_path)
    procs.append(run)
    run.wait_for("waiting for workers", 90)
    start_worker(procs, port, tmp_path, "early")
    run.wait_for("joined (1 live)", 90)
    time.sleep(3)  # the run must still be waiting, not measuring with one worker
    assert not any("round 1/1" in line for line in run.lines), run.output()
    start_worker(procs, port, tmp_path, "late")
    assert run.wait(RUN_TIMEOUT_S) == 0, run.output()
    assert all(len(r["workers"]) == 2 for r in results(tmp_path / "out")["rounds"])

    port = free_port()
    lonely = Proc(run_argv(stub_url, tmp_path / "lonely", port, "--expect-workers", "2", "--worker-timeout", "4"),
                  tmp_path)
    procs.append(lonely)
    lonely.wait_for("waiting for workers", 90)
    start_worker(procs, port, tmp_path, "alone")
    assert lonely.wait(RUN_TIMEOUT_S) == 3, lonely.output()
    assert "1 of 2 worker(s) joined within --worker-timeout 4s" in lonely.output()


def test_a_worker_of_another_version_is_refused_naming_both(stub_url: str, tmp_path: Path,
                                                           procs: list[Proc]) -> None:
    port = free_port()
    # A worker that really reports another harness version: the same entry point, the version overridden.
    # Started first (Locust's worker asks for the locustfile every second until a master answers), so it is
    # refused as soon as the master listens, and the master's wait for a valid worker can be short.
    code = ("import locust, sys; import load.cluster as c; c.HARNESS_VERSION = '0.0.0-other'; "
            f"sys.exit(c.worker_main('127.0.0.1', {port}))")
    other = Proc([sys.executable, "-c", code], tmp_path)
    procs.append(other)
    run = Proc(run_argv(stub_url, tmp_path / "out", port, "--expect-workers", "1", "--worker-timeout", "10"),
               tmp_path)
    procs.append(run)
    assert other.wait(120) == 2, other.output()
    assert "harness 0.0.0-other" in other.output()
    assert run.wait(RUN_TIMEOUT_S) == 3, run.output()
    refusal = next(line for line in run.lines if "refused" in line)
    assert "harness 0.0.0-other" in refusal
    assert "the master runs harness " in refusal
    assert "Locust 2." in refusal


def test_bad_cluster_flags_exit_2(tmp_path: Path) -> None:
    cases = {("--master-bind", "127.0.0.1:5557"): "go together",
             ("--master-bind", "127.0.0.1:x", "--expect-workers", "1"): "not a number",
             ("--master-bind", "127.0.0.1:5557", "--expect-workers", "2", "--min-workers", "3"): "--min-workers",
             ("--master-bind", "127.0.0.1:5557", "--expect-workers", "2", "--processes", "2"): "one or the other"}
    for flags, message in cases.items():
        done = subprocess.run(harness("load", "run", "-f", str(HELLO), "--arm", "a=http://127.0.0.1:9", *flags),
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, (flags, done.stdout, done.stderr)
        assert message in done.stderr + done.stdout, (flags, done.stderr)
