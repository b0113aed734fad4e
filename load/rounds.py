"""Run one round: start ``load.driver`` in a child process, follow its events, and sample CPU and
memory with psutil over exactly the measured window (driver's ``measure_start``..``measure_end``).

Generator CPU is per Locust process (master and workers), in percent of one core; the round's
``generator_cpu_percent`` is the busiest process, since one saturated Locust process is enough to
distort latencies. Server CPU is the sum over the server process and its children (so 2 busy
gunicorn workers read ~200%), RSS the largest sum seen during the window.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from harness import exitcodes
from harness.server import free_port

LOOPBACK_PREFIXES = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")

IDLE_TIMEOUT_S = 3600.0
#: The driver's cluster events (load.cluster), as progress lines.
CLUSTER_EVENTS = {
    "listening": "Locust master listening on {host}:{port} (harness {versions[harness]}, Locust "
                 "{versions[locust]}); waiting for workers",
    "worker_joined": "worker {worker} joined ({workers} live)",
    "worker_refused": "{message}",
}


class RoundError(exitcodes.HarnessError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=exitcodes.INVALID_RUN)


@dataclass
class CpuWindow:
    """CPU seconds of a set of processes between ``start()`` and ``stop()``."""

    pids: Callable[[], list[int]]
    _start: dict[int, float] = field(default_factory=dict)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    _t0: float = 0.0

    def _cpu(self, pid: int) -> float | None:
        try:
            proc = self._procs.setdefault(pid, psutil.Process(pid))
            t = proc.cpu_times()
            return float(t.user + t.system)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {pid: c for pid in self.pids() if (c := self._cpu(pid)) is not None}

    def stop(self) -> dict[int, float]:
        """Percent of one core per pid over the window (new processes count from zero)."""
        wall = max(time.monotonic() - self._t0, 1e-6)
        out = {}
        for pid in set(self.pids()) | set(self._start):
            now = self._cpu(pid)
            if now is None:
                continue
            out[pid] = 100.0 * max(0.0, now - self._start.get(pid, 0.0)) / wall
        return out


def process_changes(before: list[int], after: list[int]) -> dict[str, list[int]] | None:
    """Server processes that left or joined during a round (spawn, settle and the measured window: a
    recycled, crashed or booted worker), else None. Such a round measured a restart: its throughput
    can be a fraction of the rest."""
    gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    return {"gone": gone, "new": new} if gone or new else None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def tree_pids(root: int) -> list[int]:
    try:
        proc = psutil.Process(root)
        return [root, *(c.pid for c in proc.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += psutil.Process(pid).memory_info().rss
    return total / 2**20


@dataclass
class RoundSpec:
    host: str
    users: int
    seconds: float
    spawn_rate: float | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # HARNESS_* options of the arm
    ready_timeout_s: float = 60.0
    settle_s: float = 0.5
    remote_ok: bool = False  # --remote-target: a URL arm off this machine, loaded by remote workers

    def command(self) -> str:
        return json.dumps({"cmd": "round", "host": self.host, "users": self.users, "seconds": self.seconds,
                           "spawn_rate": self.spawn_rate or self.users, "options": dict(self.options),
                           "ready_timeout_s": self.ready_timeout_s, "settle_s": self.settle_s}) + "\n"


def _reader(stream: IO[str], q: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        line = line.strip()
        if line.startswith("{"):
            try:
                q.put(json.loads(line))
            except json.JSONDecodeError:
                continue
    q.put(None)


def generator_cpu(local: Mapping[int, float], workers: Mapping[str, Mapping[str, Any]]) -> tuple[float, float, float]:
    """(busiest process, sum, remote workers' sum on this host) in percent of one core.

    Local processes are measured here; remote workers report theirs with their heartbeats
    (``load.cluster``). The busiest one decides saturation: one saturated worker is enough.
    """
    remote = [float(w["cpu_percent"]) for w in workers.values() if w.get("cpu_percent") is not None]
    here = socket.gethostname()
    on_this_host = sum(float(w["cpu_percent"] or 0.0) for w in workers.values() if w.get("host") == here)
    return max([*local.values(), *remote], default=0.0), sum(local.values()) + sum(remote), on_this_host


class LoadDriver:
    """One long-lived ``load.driver`` process (plus its Locust workers) for one profile.

    Every wait is bounded: start-up by ``start_timeout_s``, each round by its ready timeout +
    duration + a margin. ``close()`` always ends the process group (driver and workers).
    """

    def __init__(self, profile: Path, *, processes: int = 1, log_path: Path, start_timeout_s: float = 120.0,
                 cwd: Path | None = None, cluster: Mapping[str, Any] | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.profile, self.processes, self.log_path, self.cwd = profile, processes, log_path, cwd
        # cluster: load.cluster.ClusterOptions.as_init(); the driver is then a master for remote workers.
        self.cluster = dict(cluster) if cluster is not None else None
        self.notify = notify or (lambda _line: None)
        self.start_timeout_s = start_timeout_s
        if self.cluster is not None:  # waiting for the workers is part of starting
            self.start_timeout_s = max(start_timeout_s, float(self.cluster["timeout_s"]) + 60.0)
        self._proc: subprocess.Popen[str] | None = None
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def __enter__(self) -> LoadDriver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The main job starts every driver before measuring any, so one may wait minutes for its
        # first round; the idle timeout only guards against a lost parent (whose exit closes stdin).
        init = json.dumps({"profile": str(self.profile), "processes": self.processes,
                           "master_port": free_port() if self.processes > 1 else None,
                           "idle_timeout_s": IDLE_TIMEOUT_S, "cluster": self.cluster})
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen([sys.executable, "-m", "load.driver", init],  # noqa: S603
                                          cwd=self.cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                          start_new_session=True)
        assert self._proc.stdout is not None
        threading.Thread(target=_reader, args=(self._proc.stdout, self._q), daemon=True).start()
        try:
            self._expect("started", self.start_timeout_s)
        except BaseException:
            self.close()  # __exit__ won't run when __enter__ fails: never leak the driver or its workers
            raise

    def _next(self, deadline: float, what: str) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RoundError(f"timed out waiting for {what} (driver log: {self.log_path})")
            try:
                event = self._q.get(timeout=min(remaining, 5.0))
            except queue.Empty:
                continue
            if event is None:
                code = self._proc.poll() if self._proc else None
                raise RoundError(f"load driver exited ({code}) while waiting for {what}; see {self.log_path}")
            kind = event.get("event")
            if kind == "error":
                raise RoundError(f"load driver failed: {event.get('message')} (log: {self.log_path})")
            if kind in CLUSTER_EVENTS:
                self.notify(CLUSTER_EVENTS[kind].format(**event))
                continue
            return event

    def _expect(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (event := self._next(deadline, kind)).get("event") != kind:
            pass
        return event

    def pids(self) -> list[int]:
        return tree_pids(self._proc.pid) if self._proc else []

    def run(self, spec: RoundSpec, *, server_pids: Callable[[], list[int]],
            on_progress: Callable[[Mapping[str, Any]], None] | None = None) -> dict[str, Any]:
        """Run one round; returns the driver's ``result`` plus CPU/RSS measurements."""
        if not spec.remote_ok and not spec.host.startswith(LOOPBACK_PREFIXES):
            raise exitcodes.HarnessError(f"refusing to load a non-loopback target: {spec.host} "
                                         "(load is only ever sent to this machine)")
        if self._proc is None or self._proc.poll() is not None or self._proc.stdin is None:
            raise RoundError(f"load driver is not running; see {self.log_path}")
        # From the round's start, not the window's: a worker replaced during spawn and settle is still
        # booting (or stalled) while the round is measured.
        server_before = server_pids()
        self._proc.stdin.write(spec.command())
        self._proc.stdin.flush()
        deadline = time.monotonic() + spec.ready_timeout_s + spec.seconds + 60.0
        gen = CpuWindow(self.pids)
        srv = CpuWindow(server_pids)
        rss_max, machine, machine_pct = 0.0, (0.0, 0.0), 0.0
        gen_cpu: dict[int, float] = {}
        srv_cpu: dict[int, float] = {}
        result: dict[str, Any] | None = None
        server_changes: dict[str, list[int]] | None = None
        while True:
            event = self._next(deadline, "the end of the round")
            kind = event.get("event")
            if kind == "measure_start":
                gen.start()
                srv.start()
                machine = (machine_busy_seconds(), time.monotonic())
                rss_max = rss_mb(server_pids())
            elif kind == "progress":
                rss_max = max(rss_max, rss_mb(server_pids()))
                if on_progress is not None:
                    on_progress(event)
            elif kind == "measure_end":
                gen_cpu, srv_cpu = gen.stop(), srv.stop()
                machine_pct = 100.0 * (machine_busy_seconds() - machine[0]) / max(time.monotonic() - machine[1], 1e-6)
                server_after = server_pids()
                server_changes = process_changes(server_before, server_after)
                rss_max = max(rss_max, rss_mb(server_after))
            elif kind == "result":
                result = event
            elif kind == "round_done":
                break
        if result is None:
            raise RoundError(f"load driver finished a round without a result; see {self.log_path}")
        result["generator_cpu_by_pid"] = {str(k): round(v, 1) for k, v in gen_cpu.items()}
        # Remote workers' CPU comes from their heartbeats (load.cluster); the busiest process counts.
        busiest, total, local_workers = generator_cpu(gen_cpu, result.get("workers", {}))
        result["generator_cpu_percent"] = busiest
        result["generator_cpu_percent_total"] = total
        result["server_cpu_percent"] = sum(srv_cpu.values())
        result["server_rss_mb"] = rss_max
        if server_changes is not None:
            result["server_processes_changed"] = server_changes
        # Whatever else ran on the machine meanwhile (noisy neighbours skew every figure).
        result["machine_cpu_percent"] = machine_pct
        result["other_cpu_percent"] = max(0.0, machine_pct - sum(gen_cpu.values()) - local_workers
                                          - sum(srv_cpu.values()))
        return result

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)  # the driver and its locust workers (own session)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stray workers whose master is gone
        if proc.stdout is not None:
            proc.stdout.close()
