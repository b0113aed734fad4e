"""Run an experiment: servers up, data seeded, warm-up, interleaved rounds, analysis, results.json.

Python API::

    from harness.target import load_target
    from load.experiment import get_experiment
    target = load_target()                   # [tool.harness] of the cwd's project
    doc = run_experiment(get_experiment(target, "io"), target, RunOptions(quick=True))

or, to start several experiments before measuring any (the main job), ``ExperimentRun``'s
``start()`` / ``measure()``. Each arm's server configuration is started once (arms with equal configs
share a process; see ``load.servers``), each profile gets one long-lived ``load.driver`` process
(Locust library API, optionally master + local workers) reused for every round, and every loop here
is bounded by a count (rounds) and each round by a timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.progress import RoundStatus, live_line
from harness.target import Target
from load import analysis
from load.cluster import ClusterOptions
from load.experiment import Arm, Experiment, OrderKind, aa_variant, round_order
from load.fingerprint import fingerprint
from load.rounds import LoadDriver, RoundSpec
from load.schema import validate
from load.servers import ArmServer, MigratedSchema, ServerSet
from reports import plans

# Round counts come from the plans (load.plans), which are calibrated for them; 4 x 4 s and 6 x 12 s
# measure about as long as the former 3 x 5 s and 5 x 15 s.
QUICK = {"rounds": plans.QUICK.rounds, "round_seconds": 4.0, "warmup": 2.0}
FULL = {"rounds": plans.DEFAULT.rounds, "round_seconds": 12.0, "warmup": 5.0}
Progress = Callable[[str], None]


@dataclass
class RunOptions:
    quick: bool = False
    aa: bool = False
    users: int | None = None  # None: the experiment's default
    round_seconds: float | None = None
    rounds: int | None = None
    warmup: float | None = None
    processes: int | None = None  # None: the experiment's generator_processes
    seed: int = 0
    backend: str = "sqlite"
    database_url: str | None = None
    redis_url: str | None = None
    server: str | None = None  # for arms that don't pin one; None: the target's serve.kind
    workers: int | None = 2  # for gunicorn arms that don't pin a worker count
    output: Path | None = None
    order: OrderKind = "abba"
    spawn_rate: float | None = None
    server_env: Mapping[str, str] = field(default_factory=dict)  # extra env for every server
    cluster: ClusterOptions | None = None  # remote workers (`harness load worker`) instead of local processes
    remote_target: bool = False  # URL arms off this machine (only with cluster: the workers send the load)

    def resolved(self, plan: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Rounds, their length and the warm-up: the caller's, else the experiment's plan, else the defaults."""
        aa_rounds = {"rounds": plans.QUICK_AA.rounds} if self.quick and self.aa else {}
        base = {**(QUICK if self.quick else FULL), **aa_rounds, **(plan or {})}
        seconds = float(self.round_seconds or base["round_seconds"])
        return {"rounds": int(self.rounds or base["rounds"]),
                "round_seconds": max(seconds, float(base.get("min_round_seconds", 0.0))),
                "warmup": float(base["warmup"] if self.warmup is None else self.warmup)}



#: The floor covers the spawn transient: at the main job's spawn rate every user is up within a tenth
#: of a second, and 0.25 s is several times the p99 of the cheap endpoints. Slow arms get their p99.
MIN_SETTLE_S = 0.25
MAX_SETTLE_S = 5.0


def settle_after(round_doc: Mapping[str, Any] | None, arm_last: Mapping[str, Any] | None = None) -> float:
    """How long a round runs its users before measuring: the longer of the previous round's p99 (the
    backlog it left behind drains) and this arm's own p99 in its last round (its queue fills).

    Requests of a stopped round are abandoned by the client, not by the server: a thread pool keeps
    sleeping through its backlog (200 queued ``time.sleep(0.2)`` on 40 threads is a second), and a
    next round measured before that backlog drains records the previous arm's queue, or nothing.
    Filling takes about as long: right after the spawn every user's first request waits behind the
    whole queue (200 users on 40 threads: ~1 s before responses leave at the steady rate; a ``def``
    route with a response model even queues twice, see docs/load.md). The arm's last p99 is how long
    its queue takes to build.
    """
    p99s = [doc.get("p99_ms") for doc in (round_doc, arm_last) if doc is not None]
    waits = [p / 1000.0 for p in p99s if isinstance(p, int | float)]
    return min(MAX_SETTLE_S, max([MIN_SETTLE_S, *waits]))


def serialized(progress: Progress) -> Progress:
    """``progress`` behind a lock: start-up reports from several threads, one whole line at a time."""
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            progress(line)

    return report


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def arm_doc(arm: Arm, exp: Experiment, users: int, server: ArmServer) -> dict[str, Any]:
    kind, workers, app_env = server.kind
    bound = analysis.bound_for(arm.bound, users=users)
    doc: dict[str, Any] = {"name": arm.name, "description": arm.description, "server": kind, "workers": workers,
                           "app_env": dict(app_env), "profile": arm.profile, "locustfile": str(arm.locustfile),
                           "profile_env": dict(arm.profile_env), "bound": bound,
                           "expected_429_fraction": None, "url": arm.url}
    if bound and bound["kind"] == "rate_limit" and exp.per_user_rps:
        offered = users * exp.per_user_rps
        doc["offered_rps"] = offered
        doc["expected_429_fraction"] = analysis.expected_429_fraction(bound["rps"], offered)
    elif exp.per_user_rps:
        doc["offered_rps"] = users * exp.per_user_rps
        doc["expected_429_fraction"] = 0.0
    return doc


def profile_env(arm: Arm, opts: RunOptions, setup_options: Mapping[str, str]) -> dict[str, str]:
    return {"HARNESS_SEED": str(opts.seed), **arm.profile_env, **setup_options}


def round_doc(index: int, arm: str, warmup: bool, started_at: str, res: Mapping[str, Any]) -> dict[str, Any]:
    total, counters = res["total"], res.get("counters") or {}
    rate_limited = int(counters.get("rate_limited", 0))
    gen_cpu = float(res["generator_cpu_percent"])
    return {
        "index": index, "arm": arm, "warmup": warmup, "started_at": started_at,
        "duration_s": float(res["duration_s"]), "requests": int(total["requests"]), "rps": float(total["rps"]),
        "p50_ms": total["p50_ms"], "p95_ms": total["p95_ms"], "p99_ms": total["p99_ms"],
        "percentiles_ms": total["percentiles_ms"],
        # Relative bucket width of the percentiles (load.latency); absent: Locust's coarser buckets.
        **({"latency_resolution": total["latency_resolution"]} if total.get("latency_resolution") else {}),
        "errors": int(total["failures"]), "rate_limited": rate_limited,
        "checks_failed": int(counters.get("checks_failed", 0)),
        "generator_cpu_percent": round(gen_cpu, 1),
        "generator_cpu_percent_total": round(float(res["generator_cpu_percent_total"]), 1),
        "generator_cpu_by_pid": res.get("generator_cpu_by_pid", {}),
        "server_cpu_percent": round(float(res["server_cpu_percent"]), 1),
        "server_rss_mb": round(float(res["server_rss_mb"]), 1),
        "saturated": analysis.is_saturated(gen_cpu),
        "machine_cpu_percent": round(float(res.get("machine_cpu_percent", 0.0)), 1),
        "other_cpu_percent": round(float(res.get("other_cpu_percent", 0.0)), 1),
        "locust_cpu_warning": bool(res.get("locust_cpu_warning")),
        "by_name": res["by_name"], "counters": counters, "error_samples": res.get("errors", {}),
        **({"server_processes_changed": res["server_processes_changed"]}
           if res.get("server_processes_changed") else {}),
        **cluster_fields(res),
    }


def cluster_fields(res: Mapping[str, Any]) -> dict[str, Any]:
    """Per-worker CPU, and the exclusion of a round whose set of workers changed while it ran."""
    if "workers" not in res:
        return {}
    out: dict[str, Any] = {"workers": res["workers"], "workers_lost": list(res.get("workers_lost", [])),
                           "workers_live": int(res.get("workers_live", 0))}
    changed = [f"worker {w} lost" for w in res.get("workers_lost", [])]
    changed += [f"worker {w} joined" for w in res.get("workers_joined", [])]
    if changed:
        out["excluded"] = "invalid round: " + ", ".join(changed) + " during the round"
    return out


class DriverPool(contextlib.ExitStack):
    """Locust process trees by (profile, process count), started once and shared: experiments of one
    job that drive the same profile (``middleware`` and ``server`` both use hello.py with two
    processes) reuse one tree, since every round sets its own options and resets the stats anyway.
    Closing the pool stops them all."""

    def __init__(self, log_dir: Path, cwd: Path | None = None, cluster: ClusterOptions | None = None) -> None:
        super().__init__()
        self.log_dir, self.cwd, self.cluster = log_dir, cwd, cluster
        self._lock = threading.Lock()
        self._drivers: dict[tuple[Path, int], Future[LoadDriver]] = {}

    def get(self, profile: Path, processes: int, progress: Progress, *, label: str) -> LoadDriver:
        """The started driver for ``profile``; the first caller starts it, concurrent callers wait."""
        key = (profile, processes)
        with self._lock:
            future = self._drivers.get(key)
            owner = future is None
            if future is None:
                future = self._drivers[key] = Future()
        if owner:
            progress(f"[{label}] starting Locust ({processes} process(es)) for {profile.stem}.py ...")
            name = f"locust-{profile.stem}.log" if processes == 1 else f"locust-{profile.stem}-{processes}procs.log"
            driver = LoadDriver(profile, processes=processes, log_path=self.log_dir / name, cwd=self.cwd,
                                cluster=self.cluster.as_init() if self.cluster else None,
                                notify=lambda line: progress(f"[{label}] {line}"))
            with self._lock:
                self.callback(driver.close)
            try:
                driver.start()
            except BaseException as exc:
                future.set_exception(exc)
                raise
            future.set_result(driver)
        else:
            progress(f"[{label}] sharing the Locust process(es) for {profile.stem}.py")
        return future.result()


class ExperimentRun(contextlib.ExitStack):
    """One experiment in three steps, so a caller can start several before measuring any::

        with ExperimentRun(experiment, target, opts) as run:
            run.start()          # migrations (once), servers and Locust processes, concurrently
            doc = run.measure()  # warm-up and interleaved rounds; results.json

    ``start`` spends CPU on imports and migrations, ``measure`` must have the machine to itself:
    the main job starts every experiment of its matrix first, then measures them one by one.
    Leaving the ``with`` block always stops every process that was started.
    """

    def __init__(self, experiment: Experiment, target: Target, options: RunOptions | None = None, *,
                 progress: Progress = print, schema: MigratedSchema | None = None,
                 drivers: DriverPool | None = None) -> None:
        super().__init__()
        opts = options or RunOptions()
        exp, name = experiment, experiment.name
        if opts.aa:
            exp = aa_variant(exp)
        processes = opts.processes if opts.processes is not None else exp.generator_processes
        if processes < 1:
            raise exitcodes.HarnessError("--processes must be >= 1")
        if opts.cluster is not None:
            if opts.processes not in (None, 1):
                raise exitcodes.HarnessError("--processes starts local workers; with --expect-workers the "
                                             "workers are `harness load worker` processes: give one or the other")
            if len({a.locustfile for a in exp.arms}) > 1:
                raise exitcodes.HarnessError(f"experiment {name}: its arms use several locustfiles; remote workers "
                                             "serve one master, so --master-bind needs a single locustfile")
            processes = 1
        self.name, self.exp, self.target, self.progress = name, exp, target, serialized(progress)
        self.opts = dataclasses.replace(opts, processes=processes)
        self.r = self.opts.resolved(exp.plan)
        self.users = self.opts.users or exp.users
        self.run_id = new_run_id()
        self.out = (Path(self.opts.output) if self.opts.output
                    else target.root / "reports" / "runs" / self.run_id / name)
        self.schema = schema or MigratedSchema(target, self.opts, self.out / "schema")
        self.servers: ServerSet | None = None
        self.pool = drivers  # None: a private pool, closed with this run
        self.drivers: dict[Path, LoadDriver] = {}

    def start(self) -> None:
        """Servers (after the one-off migration) and one Locust process tree per profile, concurrently."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.pool is None:
            self.pool = self.enter_context(DriverPool(self.out / "logs", cwd=self.target.root,
                                                      cluster=self.opts.cluster))
        self.servers = self.enter_context(ServerSet(self.exp, self.target, self.opts, self.out, self.progress,
                                                    self.schema))
        self.servers.check_urls()  # a URL arm that does not answer: refused before Locust is started
        profiles = list(dict.fromkeys(a.locustfile for a in self.exp.arms))
        with ThreadPoolExecutor(max_workers=1 + len(profiles)) as pool:
            servers = pool.submit(self.servers.start_all)
            drivers = {path: pool.submit(self._driver, path) for path in profiles}
            errors = [f.exception() for f in (servers, *drivers.values())]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def _driver(self, path: Path) -> None:
        assert self.pool is not None
        self.drivers[path] = self.pool.get(path, int(self.opts.processes or 1), self.progress, label=self.name)

    def measure(self, *, write: bool = True) -> dict[str, Any]:
        """Warm-up and the interleaved rounds; returns the results document (and writes results.json)."""
        if self.servers is None:
            raise RuntimeError("ExperimentRun.measure() before start()")
        name, exp, opts, r, users, progress = self.name, self.exp, self.opts, self.r, self.users, self.progress
        arm_names = [a.name for a in exp.arms]
        order = round_order(arm_names, r["rounds"], seed=opts.seed, method=opts.order)
        schedule = ([(a, True) for a in arm_names] if r["warmup"] > 0 else []) + [(a, False) for a in order]
        started = time.monotonic()
        progress(f"[{name}] run {self.run_id}: arms {', '.join(arm_names)}; {r['rounds']} rounds/arm x "
                 f"{r['round_seconds']:g}s, warm-up {r['warmup']:g}s, {users} users, {opts.processes} process(es)")
        rounds: list[dict[str, Any]] = []
        arms = {a.name: a for a in exp.arms}
        arm_docs = [arm_doc(a, exp, users, self.servers.by_arm[a.name]) for a in exp.arms]
        counts = dict.fromkeys(arm_names, 0)
        previous: dict[str, Any] | None = None
        last_by_arm: dict[str, dict[str, Any]] = {}
        for index, (arm_name, warm) in enumerate(schedule):
            arm, target = arms[arm_name], self.servers.by_arm[arm_name]
            if not target.alive():
                where = target.server.log_path if target.server is not None else target.base_url
                raise exitcodes.HarnessError(f"server for arm {arm_name} died; see {where}", exitcodes.INVALID_RUN)
            if not warm:
                counts[arm_name] += 1
            label = "warm-up" if warm else f"round {counts[arm_name]}/{r['rounds']}"
            spec = RoundSpec(host=target.base_url, users=users, seconds=r["warmup"] if warm else r["round_seconds"],
                             spawn_rate=opts.spawn_rate, settle_s=settle_after(previous, last_by_arm.get(arm_name)),
                             options=profile_env(arm, opts, target.options),
                             remote_ok=opts.remote_target and arm.url is not None)
            started_at = dt.datetime.now(dt.UTC).isoformat()
            prefix = f"[{name}] {arm_name} {label}"

            def live(event: Mapping[str, Any], prefix: str = prefix, arm_name: str = arm_name, label: str = label,
                     step: int = index + 1) -> None:
                status = RoundStatus(name, arm_name, label, float(event["elapsed"]), float(event["rps"]),
                                     step, len(schedule))
                progress(live_line(f"{prefix}: {event['elapsed']:4.1f}s live {event['rps']:7.0f} rps", status))

            res = self.drivers[arm.locustfile].run(spec, server_pids=target.pids, on_progress=live)
            doc = round_doc(index, arm_name, warm, started_at, res)
            rounds.append(doc)
            previous = last_by_arm[arm_name] = doc
            flag = "  SATURATED" if doc["saturated"] else ""
            if doc.get("excluded"):
                flag += f"  EXCLUDED ({doc['excluded']})"
            if doc.get("server_processes_changed"):
                flag += "  SERVER PROCESSES CHANGED (a worker recycled, crashed or booted)"
            if "workers" in doc:
                flag += "  workers CPU " + ", ".join("-" if w["cpu_percent"] is None else f"{w['cpu_percent']:.0f}%"
                                                     for w in doc["workers"].values())
            progress(f"[{name}] {arm_name} {label} done: {doc['rps']:.0f} rps, p95 {doc['p95_ms']} ms, "
                     f"errors {doc['errors']}, 429 {doc['rate_limited']}, gen CPU {doc['generator_cpu_percent']:.0f}%, "
                     f"server CPU {doc['server_cpu_percent']:.0f}%, other {doc['other_cpu_percent']:.0f}%{flag}")
            if opts.cluster is not None and doc.get("workers_lost") and doc["workers_live"] < opts.cluster.min_workers:
                raise exitcodes.HarnessError(
                    f"[{name}] lost worker(s) {', '.join(doc['workers_lost'])}: {doc['workers_live']} left, fewer "
                    f"than --min-workers {opts.cluster.min_workers}; stopping the run", exitcodes.INVALID_RUN)
        doc = assemble(self.run_id, name, exp, opts, users, r, order, arm_docs, rounds, self.target)
        doc["elapsed_s"] = round(time.monotonic() - started, 1)
        if write:
            path = self.out / "results.json"
            path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
            doc["_path"] = str(path)
            progress(f"[{name}] wrote {path}")
        return doc


def run_experiment(experiment: Experiment, target: Target, options: RunOptions | None = None, *,
                   progress: Progress = print, write: bool = True) -> dict[str, Any]:
    """Run ``experiment`` on ``target``; returns the results document (and writes ``results.json``)."""
    with ExperimentRun(experiment, target, options, progress=progress) as run:
        run.start()
        return run.measure(write=write)


def assemble(run_id: str, name: str, exp: Experiment, opts: RunOptions, users: int, r: Mapping[str, Any],
             order: list[str], arm_docs: list[dict[str, Any]], rounds: list[dict[str, Any]],
             target: Target | None = None) -> dict[str, Any]:
    summary = analysis.summarize(rounds, arm_docs)
    saturated = any(x["saturated"] and not x["warmup"] for x in rounds)
    plan = plans.plan_for(opts.quick, opts.aa)
    comparisons = analysis.comparisons_for(rounds, [a["name"] for a in arm_docs],
                                           invalid_reason=analysis.SATURATED_REASON if saturated else None,
                                           seed=opts.seed, plan=plan)
    validity = analysis.validity(rounds, summary, aa=opts.aa, comparisons=comparisons)
    url_arms = [a["name"] for a in arm_docs if a["server"] == "url"]
    if url_arms:  # no process to sample: a 0 % server CPU would read as a measurement
        validity.setdefault("notes", []).append(
            f"server CPU and memory unknown for URL arm(s) {', '.join(url_arms)} (not started by the harness)")
    doc = {
        "format": "fastapi-harness.results", "format_version": 1, "run_id": run_id, "profile": name,
        "description": exp.description, "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "environment": fingerprint(opts.backend, target),
        "config": {"users": users, "spawn_rate": float(opts.spawn_rate or users),
                   "round_seconds": float(r["round_seconds"]), "rounds_per_arm": int(r["rounds"]),
                   "warmup_seconds": float(r["warmup"]),
                   "processes": opts.processes if opts.processes is not None else exp.generator_processes,
                   "seed": opts.seed,
                   "quick": opts.quick, "aa": opts.aa, "plan": plan.as_dict(),
                   "order": order, "order_method": opts.order,
                   "server": opts.server or (target.serve.kind if target else None),
                   "per_user_rps": exp.per_user_rps,
                   **({"cluster": {"master_bind": f"{opts.cluster.bind_host}:{opts.cluster.bind_port}",
                                   "expect_workers": opts.cluster.expect_workers,
                                   "min_workers": opts.cluster.min_workers,
                                   "worker_timeout_s": opts.cluster.worker_timeout_s}} if opts.cluster else {})},
        "arms": arm_docs, "rounds": rounds, "summary": summary, "comparisons": comparisons,
        "validity": validity, "checks": {**dict.fromkeys(exp.checks, 0.0), **analysis.aggregate_checks(rounds)},
    }
    validate(doc)
    return doc


def rerun_options(opts: RunOptions, **changes: Any) -> RunOptions:
    return dataclasses.replace(opts, **changes)
