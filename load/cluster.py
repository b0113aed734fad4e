"""Load generation across machines: Locust's own distributed mode, driven by the harness.

The harness's driver (``load.driver``) is the Locust master; ``harness load worker --master HOST:PORT``
is a plain Locust worker (``locust -f - --worker``: the locustfile travels from the master, as Locust
allows) plus three harness additions, all through Locust's own mechanisms:

- **A version handshake.** Right after Locust's ``client_ready``, the worker sends a custom
  ``harness_hello`` message with its harness and Locust versions. The master accepts only workers
  whose versions equal its own; any other is sent ``harness_refused`` (naming both versions), dropped
  from the master's worker list, and exits 2. A worker that never says hello (a plain ``locust
  --worker``) is refused the same way after ``HELLO_GRACE_S``. Locust itself only logs a warning.
- **CPU per worker.** Locust's worker heartbeats (every second) carry ``current_cpu_usage``; the
  worker samples it every ``WORKER_CPU_INTERVAL_S`` instead of Locust's default 10 s, so a few-second
  round gets several samples. The master averages the samples that arrived in a round's window.
- **Loss detection.** A worker whose heartbeats stop (SIGKILL, network) is marked missing by Locust
  after about 3 s; the master also waits, after each round, for a heartbeat from every worker of
  the round that is newer than the round's end (at most ``STALE_HEARTBEAT_S``): one that sends none
  is lost, so a worker killed in a round's last seconds invalidates that round rather than the next.

``ClusterWatch`` is the master side; ``worker_main`` the worker side. Both run inside gevent
processes with Locust imported first; this module imports Locust lazily so that the CLI can parse
flags without it.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import exitcodes

DEFAULT_PORT = 5557  # Locust's own default master port
HELLO_GRACE_S = 5.0
WORKER_CPU_INTERVAL_S = 1.0
STALE_HEARTBEAT_S = 3.0
REPORT_INTERVAL_S = 0.25  # = load.driver.DEFAULT_REPORT_INTERVAL_S
REFUSED_EXIT = exitcodes.USAGE  # the worker was started wrongly (another version)


def harness_version() -> str:
    try:
        return importlib.metadata.version("fastapi-harness")
    except importlib.metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "unknown"


def versions() -> dict[str, str]:
    import locust

    return {"harness": HARNESS_VERSION or harness_version(), "locust": str(locust.__version__)}


#: Overridable for tests of the version check (a worker that really is another version).
HARNESS_VERSION: str | None = None


def describe(v: dict[str, Any]) -> str:
    return f"harness {v.get('harness', '?')} / Locust {v.get('locust', '?')}"


def parse_hostport(text: str, *, default_port: int = DEFAULT_PORT, flag: str = "--master") -> tuple[str, int]:
    """``HOST[:PORT]`` (``[::1]:5557`` for IPv6) as a pair; exit 2 on anything else."""
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host:
        raise exitcodes.HarnessError(f"{flag} {text!r}: expected HOST[:PORT]")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise exitcodes.HarnessError(f"{flag} {text!r}: port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise exitcodes.HarnessError(f"{flag} {text!r}: port must be 1..65535")
    return host, port


@dataclass(frozen=True)
class ClusterOptions:
    """``harness load run --master-bind HOST:PORT --expect-workers N [--min-workers M] [--worker-timeout S]``."""

    bind_host: str
    bind_port: int
    expect_workers: int
    min_workers: int
    worker_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.expect_workers < 1:
            raise exitcodes.HarnessError("--expect-workers must be >= 1")
        if not 1 <= self.min_workers <= self.expect_workers:
            raise exitcodes.HarnessError("--min-workers must be between 1 and --expect-workers")
        if self.worker_timeout_s <= 0:
            raise exitcodes.HarnessError("--worker-timeout must be > 0")

    def as_init(self) -> dict[str, Any]:
        return {"bind_host": self.bind_host, "bind_port": self.bind_port, "expect": self.expect_workers,
                "min": self.min_workers, "timeout_s": self.worker_timeout_s}


class WorkersLost(RuntimeError):
    """Fewer than --min-workers left: the run stops (exit 3)."""


@dataclass
class _Worker:
    id: str
    versions: dict[str, Any]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (received at, cpu %)
    last_heartbeat: float = 0.0


class ClusterWatch:
    """The master's view of its harness workers: handshake, CPU samples, losses.

    Runs in the driver's gevent loop; every method is called from there, so no locking.
    """

    def __init__(self, runner: Any, on_event: Callable[..., None]) -> None:
        from locust.rpc import Message

        self.runner, self.emit, self._message = runner, on_event, Message
        self.mine = versions()
        self.accepted: dict[str, _Worker] = {}
        self.refused: dict[str, str] = {}  # worker id -> message
        self.locust_versions: dict[str, str] = {}  # from Locust's own client_ready
        self.first_seen: dict[str, float] = {}
        runner.register_message("harness_hello", self._on_hello)
        runner.environment.events.heartbeat_sent.add_listener(self._on_heartbeat)

    # -- handshake ----------------------------------------------------------------------------

    def client_ready(self, client_id: str, locust_version: Any) -> None:
        self.locust_versions[client_id] = str(locust_version)
        self.first_seen.setdefault(client_id, time.monotonic())

    def _on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        theirs = dict(msg.data or {})
        if theirs.get("harness") == self.mine["harness"] and theirs.get("locust") == self.mine["locust"]:
            worker = self.accepted.get(msg.node_id) or _Worker(msg.node_id, theirs)
            worker.last_heartbeat = time.monotonic()
            if msg.node_id not in self.accepted:
                self.accepted[msg.node_id] = worker
                self.emit("worker_joined", worker=msg.node_id, host=theirs.get("host"), workers=len(self.live()))
            return
        self._refuse(msg.node_id, f"worker {msg.node_id} refused: it runs {describe(theirs)}, "
                                  f"the master runs {describe(self.mine)}; install the same versions on both")

    def _refuse(self, client_id: str, text: str) -> None:
        if client_id in self.refused:
            return
        self.refused[client_id] = text
        message = self._message("harness_refused", {"message": text}, client_id)  # type: ignore[no-untyped-call]
        self.runner.server.send_to_client(message)
        self._drop(client_id)
        self.emit("worker_refused", worker=client_id, message=text)

    def _drop(self, client_id: str) -> None:
        node = self.runner.clients.get(client_id)
        if node is None:
            return
        del self.runner.clients[client_id]
        dispatcher = getattr(self.runner, "_users_dispatcher", None)
        if dispatcher is not None:
            dispatcher.remove_worker(node)

    def refuse_silent(self) -> None:
        """Workers connected for HELLO_GRACE_S without a hello: plain Locust workers, or older harnesses."""
        now = time.monotonic()
        for client_id in list(self.runner.clients):
            if client_id in self.accepted or client_id in self.refused:
                continue
            if now - self.first_seen.setdefault(client_id, now) >= HELLO_GRACE_S:
                theirs = {"harness": "none (no harness handshake)",
                          "locust": self.locust_versions.get(client_id, "?")}
                self._refuse(client_id, f"worker {client_id} refused: it runs {describe(theirs)}, the master runs "
                                        f"{describe(self.mine)}; start workers with `harness load worker`")

    # -- liveness and CPU ---------------------------------------------------------------------

    def _on_heartbeat(self, client_id: str, timestamp: float, **_: Any) -> None:
        worker = self.accepted.get(client_id)
        node = self.runner.clients.get(client_id)
        if worker is None or node is None:
            return
        now = time.monotonic()
        worker.last_heartbeat = now
        worker.samples.append((now, float(node.cpu_usage)))
        del worker.samples[:-600]  # bounded: ten minutes of heartbeats

    def live(self) -> list[str]:
        """Accepted workers that Locust still counts (not missing) and whose heartbeats are fresh."""
        from locust.runners import STATE_MISSING

        now = time.monotonic()
        out = []
        for client_id, worker in self.accepted.items():
            node = self.runner.clients.get(client_id)
            if node is None or node.state == STATE_MISSING:
                continue
            if now - worker.last_heartbeat > STALE_HEARTBEAT_S:
                continue
            out.append(client_id)
        return out

    def retire(self, lost: list[str]) -> None:
        """Workers lost in a round leave Locust's worker list now, so the next round never dispatches
        users to them (Locust would notice only after its own heartbeat timeout)."""
        from locust.runners import STATE_MISSING

        for client_id in lost:
            node = self.runner.clients.get(client_id)
            if node is not None:
                node.state = STATE_MISSING
                node.user_classes_count = {}

    def silent_since(self, t: float, ids: list[str]) -> list[str]:
        """Workers among ``ids`` without a heartbeat after monotonic time ``t``."""
        return [c for c in ids if c not in self.accepted or self.accepted[c].last_heartbeat <= t]

    def unaccepted(self) -> list[str]:
        return [c for c in self.runner.clients if c not in self.accepted and c not in self.refused]

    def cpu_between(self, t0: float, t1: float, ids: list[str]) -> dict[str, float | None]:
        """Mean of each worker's heartbeat CPU samples received in (t0 + one sample interval, t1 + one
        heartbeat]: each sample covers the second before it was taken."""
        out: dict[str, float | None] = {}
        for client_id in ids:
            worker = self.accepted.get(client_id)
            values = [cpu for at, cpu in (worker.samples if worker else [])
                      if t0 + WORKER_CPU_INTERVAL_S * 0.5 <= at <= t1 + 1.0]
            out[client_id] = round(sum(values) / len(values), 1) if values else None
        return out

    def hosts(self) -> dict[str, Any]:
        return {cid: w.versions.get("host") for cid, w in self.accepted.items()}


# -- the worker side --------------------------------------------------------------------------


def _install_worker_hooks() -> None:
    """Before Locust's main runs: faster CPU samples, the hello, and the refusal handler."""
    from locust import events, runners

    runners.CPU_MONITOR_INTERVAL = WORKER_CPU_INTERVAL_S  # read by Runner.monitor_cpu_and_memory each loop

    def on_init(environment: Any, runner: Any = None, **_: Any) -> None:
        if not isinstance(runner, runners.WorkerRunner):
            return

        def refused(environment: Any, msg: Any, **_: Any) -> None:
            sys.stderr.write(f"harness load worker: {msg.data.get('message')}\n")
            sys.stderr.flush()
            os._exit(REFUSED_EXIT)  # Locust's quit path would wait for a master that no longer counts us

        runner.register_message("harness_refused", refused)
        import socket

        runner.send_message("harness_hello", {**versions(), "host": socket.gethostname(), "pid": os.getpid()})

    events.init.add_listener(on_init)  # type: ignore[no-untyped-call]  # locust ships no types


def worker_main(master_host: str, master_port: int, extra: list[str] | None = None) -> int:
    """``locust -f - --worker --master-host H --master-port P``, with the harness's counters and hooks."""
    import locust  # noqa: F401 - monkey-patches first
    from locust.main import main as locust_main

    # Stats reach the master every 0.25 s, as from the driver's local workers: a round's window is
    # cut on the master, so a 3 s report interval would smear requests across round boundaries.
    os.environ.setdefault("HARNESS_WORKER_REPORT_INTERVAL", str(REPORT_INTERVAL_S))

    import load.counters  # noqa: F401 - users_ready and profile counters reach the master

    _install_worker_hooks()
    sys.argv = ["locust", "-f", "-", "--worker", "--master-host", master_host, "--master-port", str(master_port),
                *(extra or [])]
    try:
        locust_main()  # type: ignore[no-untyped-call]  # locust ships no types
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
