# ruff: noqa: I001  (locust must be imported first: it monkey-patches the standard library)
"""Locust, driven through its library API in a process of its own, one command per round.

The runner starts ``python -m load.driver '<json init>'`` once per profile and experiment, then
writes one JSON command per line on stdin (``round`` or ``quit``). Importing Locust costs seconds
on a busy machine, so the process (and its Locust workers) is reused for every round, while
Locust's gevent monkey-patching never touches the caller (the CLI or the main job), and generator
CPU can be measured per process. For ``processes > 1`` this process is a Locust master
(``PromptMasterRunner`` on 127.0.0.1) with that many ``locust --worker`` processes; per-round
options travel to the workers as Locust custom arguments (``parsed_options``), which the master
sends with every spawn message.

The locustfile is the user's, unchanged: ``load.counters`` wraps each User class's ``on_start`` so
that the driver knows when every user is set up, with no helper the file must call.

A round: set the options, ``runner.start``, wait until every user finished ``on_start`` (logins,
reference fetches), settle, reset the stats, measure for S seconds, snapshot
``stats.total.get_response_time_percentile`` etc., ``runner.stop``.

Events on stdout, one JSON object per line: ``started``, ``ready``, ``measure_start``,
``progress`` (live rps), ``measure_end``, ``result``, ``round_done``, ``error``. Locust's own
logging goes to stderr.
"""

from __future__ import annotations

# Locust monkey-patches the standard library on import: first, before anything else.
import locust
from locust import argument_parser
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_INIT, STATE_STOPPED, STATE_STOPPING, MasterRunner, Runner
from locust.runners import logger as runners_logger
from locust.util.load_locustfile import load_locustfile

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

import gevent
import greenlet  # type: ignore[import-untyped]
from gevent.socket import wait_read

PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999)
OPTION_PREFIX = "HARNESS_"
DEFAULT_REPORT_INTERVAL_S = 0.25  # workers' stats reports; users_ready reaches the master only with them
from load import cluster, counters, latency  # noqa: E402 - after locust's monkey-patching; registers listeners
from load.soakstats import window_percentile  # noqa: E402
STOP_POLL_INTERVAL_S = 0.05
logger = runners_logger  # PromptMasterRunner.stop is Locust's code and logs as Locust does


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.time(), **data}) + "\n")
    sys.stdout.flush()


def entry_stats(entry: Any, duration: float) -> dict[str, Any]:
    n = int(entry.num_requests)
    pct = {str(p): (float(entry.get_response_time_percentile(p)) if n else None) for p in PERCENTILES}
    return {
        "requests": n,
        "failures": int(entry.num_failures),
        "rps": n / duration if duration > 0 else 0.0,
        "p50_ms": pct["0.5"],
        "p95_ms": pct["0.95"],
        "p99_ms": pct["0.99"],
        "percentiles_ms": pct,
        "avg_ms": float(entry.avg_response_time) if n else None,
        "max_ms": float(entry.max_response_time) if n else None,
    }


def fine_percentiles(total: dict[str, Any]) -> dict[str, Any]:
    """``total`` with its percentiles from ``load.latency`` (0.5% resolution) instead of Locust's."""
    if not latency.HISTOGRAM or not total["requests"]:
        return total
    pct = {str(p): latency.percentile(latency.HISTOGRAM, p) for p in PERCENTILES}
    return {**total, "p50_ms": pct["0.5"], "p95_ms": pct["0.95"], "p99_ms": pct["0.99"], "percentiles_ms": pct,
            "latency_resolution": latency.RELATIVE_WIDTH}


def snapshot(env: Environment, duration: float) -> dict[str, Any]:
    stats = env.stats
    by_name = {}
    for (name, method), entry in stats.entries.items():
        s = entry_stats(entry, duration)
        by_name[f"{method} {name}"] = {k: s[k] for k in ("requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms")}
    errors = {f"{e.method} {e.name}: {e.error}": int(e.occurrences) for e in stats.errors.values()}
    return {"total": fine_percentiles(entry_stats(stats.total, duration)), "by_name": by_name,
            "errors": dict(sorted(errors.items())[:20]), "counters": {k: v for k, v in counters.COUNTERS.items()
                                                               if k != counters.READY}}


def wait_until(predicate: Any, timeout: float, what: str, runner: Any = None) -> None:
    """Bounded wait; gives up early when a user raised (Locust collects that in runner.exceptions)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if runner is not None and runner.exceptions:
            row = next(iter(runner.exceptions.values()))
            raise RuntimeError(f"a user failed while waiting for {what}: {row['msg']}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        gevent.sleep(0.05)


class PromptMasterRunner(MasterRunner):
    """Locust's ``MasterRunner``, except that ``stop()`` polls its workers every 50 ms instead of every second.

    Upstream ``stop()`` sends ``stop`` to the workers, then waits ``while self.user_count != 0:
    gevent.sleep(1)``. The workers stop within milliseconds, but at 1 s granularity the master notices
    only on the next tick, so every round spent a full second in ``stop()``: with the quick main job's
    1 s rounds, a third of the middleware and server experiments' time. The body is Locust 2.47's own,
    verbatim; only the sleep interval differs (``STOP_POLL_INTERVAL_S``), plus ``type: ignore``
    comments on Locust's untyped calls. tests/unit/load/test_driver_master.py fails when the upstream
    body changes, so a Locust upgrade forces a re-check of this copy.
    """

    def stop(self, send_stop_to_client: bool = True) -> None:
        if self.state not in [STATE_INIT, STATE_STOPPED, STATE_STOPPING]:
            logger.debug("Stopping...")
            self.environment.events.test_stopping.fire(environment=self.environment)  # type: ignore[no-untyped-call]
            self.final_user_classes_count = {**self.reported_user_classes_count}
            self.update_state(STATE_STOPPING)

            if (
                self.environment.shape_class is not None
                and self.shape_greenlet is not None
                and self.shape_greenlet is not greenlet.getcurrent()
            ):
                self.shape_greenlet.kill(block=True)
                self.shape_greenlet = None
                self.shape_last_tick = None

            self._users_dispatcher = None

            if send_stop_to_client:
                for client in self.clients.all:
                    logger.debug(f"Sending stop message to worker {client.id}")
                    self.server.send_to_client(Message("stop", None, client.id))  # type: ignore[no-untyped-call]

                # Give an additional 60s for all workers to stop
                timeout = gevent.Timeout(self.environment.stop_timeout + 60)
                timeout.start()
                try:
                    while self.user_count != 0:
                        gevent.sleep(STOP_POLL_INTERVAL_S)
                except gevent.Timeout:
                    logger.error("Timeout waiting for all workers to stop")
                finally:
                    timeout.cancel()
            self.environment.events.test_stop.fire(environment=self.environment)  # type: ignore[no-untyped-call]


    #: Set by the driver in cluster mode: sees every worker's Locust version (``client_ready``).
    watch: Any = None

    def handle_message(self, client_id: str, msg: Message) -> None:
        if msg.type == "client_ready" and self.watch is not None:
            self.watch.client_ready(client_id, msg.data)
        super().handle_message(client_id, msg)


def create_master_runner(env: Environment, port: int, host: str = "127.0.0.1") -> PromptMasterRunner:
    """``env.create_master_runner`` with ``PromptMasterRunner``, through the same ``Environment`` factory."""
    return env._create_runner(PromptMasterRunner, master_bind_host=host, master_bind_port=port)


class Driver:
    def __init__(self, init: dict[str, Any]) -> None:
        self.profile = init["profile"]
        self.processes = int(init.get("processes", 1))
        user_classes, _shapes = load_locustfile(self.profile)
        if not user_classes:
            raise ValueError(f"no User class in {self.profile}")
        self.user_classes = list(user_classes.values())
        counters.track_ready(self.user_classes)
        # parsed_options: Locust's defaults (the runners read several) plus the per-round HARNESS_*
        # options, which the master forwards to its workers as custom arguments.
        parser = argument_parser.get_empty_argument_parser()
        argument_parser.setup_parser_arguments(parser)  # type: ignore[no-untyped-call]
        self.options: argparse.Namespace = parser.parse(args=[])
        self._option_keys: set[str] = set()
        self.env = Environment(user_classes=self.user_classes, events=locust.events, parsed_options=self.options)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.runner: Runner
        self.cluster_opts: dict[str, Any] | None = init.get("cluster")
        self.watch: cluster.ClusterWatch | None = None
        if self.cluster_opts is not None:
            # Workers started elsewhere (`harness load worker --master HOST:PORT`) ask this master for
            # the locustfile (Locust's `-f -`): it serves env.parsed_locustfiles.
            self.env.parsed_locustfiles = [self.profile]
            master = create_master_runner(self.env, int(self.cluster_opts["bind_port"]), self.cluster_opts["bind_host"])
            self.runner = master
            self.watch = master.watch = cluster.ClusterWatch(master, emit)
            emit("listening", host=self.cluster_opts["bind_host"], port=int(self.cluster_opts["bind_port"]),
                 versions=self.watch.mine)
            self._wait_cluster(int(self.cluster_opts["expect"]), float(self.cluster_opts["timeout_s"]))
        elif self.processes > 1:
            port = int(init["master_port"])
            self.runner = create_master_runner(self.env, port)
            cmd = [sys.executable, "-m", "load.worker", "-f", self.profile, "--worker", "--master-host", "127.0.0.1",
                   "--master-port", str(port), "--loglevel", "WARNING"]
            interval = init.get("report_interval_s", DEFAULT_REPORT_INTERVAL_S)
            env = {**os.environ, "HARNESS_WORKER_REPORT_INTERVAL": str(interval)}
            self.workers = [subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,  # noqa: S603
                                             stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno())
                            for _ in range(self.processes)]
            self._wait_workers_ready(float(init.get("ready_timeout_s", 60)))
        else:
            self.runner = self.env.create_local_runner()
        emit("started", workers=[w.pid for w in self.workers])

    def _wait_cluster(self, expect: int, timeout: float) -> None:
        """Until ``expect`` harness workers joined (bounded by --worker-timeout); refuses strangers."""
        watch = self.watch
        assert watch is not None
        assert self.cluster_opts is not None
        port = self.cluster_opts["bind_port"]
        deadline = time.monotonic() + timeout
        while True:
            watch.refuse_silent()
            live = watch.live()
            if len(live) >= expect:
                return
            if time.monotonic() > deadline:
                refused = "".join(f"; {m}" for m in watch.refused.values())
                raise cluster.WorkersLost(
                    f"{len(live)} of {expect} worker(s) joined within --worker-timeout {timeout:g}s "
                    f"(start them with `harness load worker --master HOST:{port}`)"
                    + refused)
            gevent.sleep(0.1)

    def _wait_workers_ready(self, timeout: float) -> None:
        runner: Any = self.runner
        wait_until(lambda: len(runner.clients.ready) >= self.processes, timeout, f"{self.processes} locust workers")

    def _apply_options(self, options: dict[str, str]) -> None:
        for key in self._option_keys:
            setattr(self.options, key, None)  # forget the previous arm's options
        for name, value in options.items():
            if name.startswith(OPTION_PREFIX):
                os.environ[name] = value
                key = name[len(OPTION_PREFIX):].lower()
                setattr(self.options, key, value)
                self._option_keys.add(key)

    def _round_workers(self) -> list[str]:
        """The workers this round runs on; strangers refused, the lost ones out of Locust's list."""
        watch, opts = self.watch, self.cluster_opts
        assert watch is not None
        assert opts is not None
        watch.refuse_silent()
        grace = time.monotonic() + cluster.HELLO_GRACE_S + 1.0  # a worker mid-handshake gets its answer
        while watch.unaccepted() and time.monotonic() < grace:
            gevent.sleep(0.1)
            watch.refuse_silent()
        ids = watch.live()
        watch.retire([c for c in watch.accepted if c not in ids])
        if len(ids) < int(opts["min"]):
            raise cluster.WorkersLost(f"only {len(ids)} worker(s) left, fewer than --min-workers {opts['min']}")
        return ids

    def _lost(self, ids: list[str]) -> list[str]:
        assert self.watch is not None
        live = set(self.watch.live())
        return [c for c in ids if c not in live]

    def round(self, cmd: dict[str, Any]) -> None:
        users = int(cmd["users"])
        ids: list[str] = []
        if self.watch is not None:
            ids = self._round_workers()
        elif self.processes > 1:
            self._wait_workers_ready(float(cmd.get("ready_timeout_s", 60)))
        self._apply_options(cmd.get("options", {}))
        self.env.host = cmd["host"]
        for cls in self.user_classes:
            cls.host = cmd["host"]
        counters.COUNTERS.clear()
        latency.reset()
        self.runner.exceptions = {}
        self.runner.cpu_warning_emitted = False
        self.runner.start(users, spawn_rate=float(cmd.get("spawn_rate") or users))
        lost: list[str] = []

        def ready() -> bool:
            nonlocal lost
            lost = self._lost(ids) if ids else []
            return bool(lost) or counters.COUNTERS[counters.READY] >= users

        wait_until(ready, float(cmd.get("ready_timeout_s", 60)), f"{users} users to finish on_start", self.runner)
        if not lost:
            gevent.sleep(float(cmd.get("settle_s", 0.5)))
        emit("ready", users=users)
        seconds = 0.0 if lost else float(cmd["seconds"])
        emit("measure_start")
        self.env.stats.reset_all()
        counters.reset_counters()
        latency.reset()
        t0 = time.monotonic()
        last_n, last_t = 0, t0
        last_times: dict[int, int] = {}
        while (now := time.monotonic()) - t0 < seconds:
            if ids and (lost := self._lost(ids)):
                break  # the round is invalid anyway: don't spend the rest of it
            gevent.sleep(min(1.0, max(0.01, seconds - (now - t0))))
            now = time.monotonic()
            total = self.env.stats.total
            n = total.num_requests
            times = dict(total.response_times)
            emit("progress", elapsed=now - t0, rps=(n - last_n) / max(now - last_t, 1e-6), requests=n,
                 p95_ms=window_percentile(last_times, times, 0.95), failures=int(total.num_failures))
            last_n, last_t, last_times = n, now, times
        duration = time.monotonic() - t0
        result = snapshot(self.env, duration)
        emit("measure_end")
        runner: Any = self.runner
        result["duration_s"] = duration
        result["locust_cpu_warning"] = bool(getattr(runner, "cpu_warning_emitted", False)
                                            or getattr(runner, "worker_cpu_warning_emitted", False))
        t_end = t0 + duration
        if self.watch is not None:
            self.watch.retire(self._lost(ids))  # stop() waits for users to stop: a dead worker's never will
        before = dict(counters.COUNTERS)
        # Locust's test_stop listeners run in stop(): what they count (a profile checking what the round
        # left behind, e.g. that every job it enqueued finished) belongs to this round's result.
        self.runner.stop()
        for key, value in counters.COUNTERS.items():
            if key not in counters.PERSISTENT and value != before.get(key, 0):
                result["counters"][key] = result["counters"].get(key, 0) + value - before.get(key, 0)
        if self.watch is not None:
            # Every worker of the round must prove it outlived the window with a later heartbeat (one a
            # second), so a worker killed in the last seconds invalidates this round, not the next.
            watch = self.watch
            deadline = time.monotonic() + cluster.STALE_HEARTBEAT_S
            while time.monotonic() < deadline and watch.silent_since(t_end, ids):
                gevent.sleep(0.05)
            lost = sorted(set(lost) | set(watch.silent_since(t_end, ids)) | set(self._lost(ids)))
            hosts = watch.hosts()
            cpu = watch.cpu_between(t0, t_end, ids)
            result["workers"] = {c: {"cpu_percent": cpu[c], "host": hosts.get(c), "lost": c in lost} for c in ids}
            result["workers_lost"] = lost
            result["workers_joined"] = sorted(set(watch.live()) - set(ids))
            watch.retire(lost)
            result["workers_live"] = len([c for c in watch.live() if c not in lost])
        emit("result", **result)
        emit("round_done")

    def close(self) -> None:
        try:
            with gevent.Timeout(10, False):  # a wedged master must not keep the process alive
                self.runner.quit()
        finally:
            for w in self.workers:
                if w.poll() is None:
                    w.terminate()
            for w in self.workers:
                try:
                    w.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    w.kill()


def commands(idle_timeout_s: float) -> Any:
    """JSON lines from stdin, read cooperatively (Locust's greenlets keep running while we wait)."""
    fd = sys.stdin.fileno()
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
        try:
            wait_read(fd, timeout=idle_timeout_s)
        except TimeoutError as exc:
            raise TimeoutError(f"no command for {idle_timeout_s:.0f}s") from exc
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buffer += chunk


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    init = json.loads(args[0])
    logging.basicConfig(level=init.get("loglevel", "WARNING"), stream=sys.stderr)
    driver: Driver | None = None
    try:
        driver = Driver(init)
        for cmd in commands(float(init.get("idle_timeout_s", 600))):
            if cmd.get("cmd") == "quit":
                break
            if cmd.get("cmd") == "round":
                driver.round(cmd)
        return 0
    except cluster.WorkersLost as exc:  # not a crash: the run stops with exit 3 and this message
        emit("error", message=str(exc))
        return 1
    except Exception as exc:  # reported to the runner, which turns it into an invalid run
        emit("error", message=f"{type(exc).__name__}: {exc}")
        logging.exception("driver failed")
        return 1
    finally:
        if driver is not None:
            driver.close()


if __name__ == "__main__":
    sys.exit(main())
