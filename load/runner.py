"""Run an experiment: servers up, data seeded, warm-up, interleaved rounds, analysis, results.json.

Python API for the main job::

    from load.runner import RunOptions, run_experiment
    doc = run_experiment("io", RunOptions(quick=True))   # dict that validates against results.schema.json

Each arm's server configuration is started once (arms with equal configs share a process), every
round is one ``load.driver`` process (Locust library API, optionally master + local workers), and
every loop here is bounded by a count (rounds) and each round by a timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.server import REPO_ROOT, ServerConfig, ServerProcess
from load import analysis
from load.experiment import Arm, Experiment, OrderKind, aa_variant, get_experiment, round_order, server_key
from load.fingerprint import fingerprint
from load.rounds import LoadDriver, RoundSpec
from load.schema import validate
from load.seeding import SeedData, lab_config, seed

DOWNSTREAM_APP = "reference_app.downstream.app:create_pricing_app"
QUICK = {"rounds": 3, "round_seconds": 5.0, "warmup": 2.0}
FULL = {"rounds": 5, "round_seconds": 15.0, "warmup": 5.0}
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
    server: str = "uvicorn"
    workers: int = 2  # for gunicorn arms that don't pin a worker count
    output: Path | None = None
    order: OrderKind = "abba"
    spawn_rate: float | None = None
    server_env: Mapping[str, str] = field(default_factory=dict)  # extra REFAPP_* for every server
    migrate_cmd: tuple[str, ...] | None = None  # None: harness.server's default
    #: Extra ServerConfig fields (e.g. app="pkg.mod:factory", cwd=..., migrate_cmd=None for a stub).
    server_overrides: Mapping[str, Any] = field(default_factory=dict)

    def resolved(self) -> dict[str, Any]:
        base = QUICK if self.quick else FULL
        return {"rounds": self.rounds or base["rounds"],
                "round_seconds": self.round_seconds or base["round_seconds"],
                "warmup": base["warmup"] if self.warmup is None else self.warmup}



MIN_SETTLE_S = 0.5
MAX_SETTLE_S = 5.0


def settle_after(round_doc: Mapping[str, Any]) -> float:
    """How long the next round runs its users before measuring: at least the previous round's p99.

    Requests of a stopped round are abandoned by the client, not by the server: a thread pool keeps
    sleeping through its backlog (200 queued ``time.sleep(0.2)`` on 40 threads is a second), and a
    next round measured before that backlog drains records the previous arm's queue, or nothing.
    """
    p99 = round_doc.get("p99_ms")
    if not isinstance(p99, int | float):
        return MIN_SETTLE_S
    return min(MAX_SETTLE_S, max(MIN_SETTLE_S, p99 / 1000.0))

def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def base_server_env(opts: RunOptions, workdir: Path) -> dict[str, str]:
    """Defaults for measuring: quiet logs, limits that don't interfere, a private database."""
    if opts.backend == "postgres" and not opts.database_url:
        raise exitcodes.HarnessError("--backend postgres needs --database-url postgresql+asyncpg://...")
    env = {
        "REFAPP_ACCESS_LOG": "false",
        "REFAPP_LOG_LEVEL": "WARNING",
        "REFAPP_OTEL_EXPORTER": "none",
        "REFAPP_JWT_SECRET": secrets.token_urlsafe(48),
        # The default/login/signup limits would throttle the load itself; the lab limit stays.
        "REFAPP_DEFAULT_LIMIT": "1000000/second",
        "REFAPP_LOGIN_LIMIT": "1000000/second",
        "REFAPP_SIGNUP_LIMIT": "1000000/second",
        "REFAPP_STORAGE_DIR": str(workdir / "files"),
        "REFAPP_DATABASE_URL": opts.database_url or f"sqlite+aiosqlite:///{workdir / 'refapp.db'}",
    }
    if opts.redis_url:
        env["REFAPP_REDIS_URL"] = opts.redis_url
    env.update(opts.server_env)
    return env


class _Servers(contextlib.ExitStack):
    """One server per distinct server configuration; arms map onto them."""

    def __init__(self, exp: Experiment, opts: RunOptions, out: Path, progress: Progress) -> None:
        super().__init__()
        self.exp, self.opts, self.out, self.progress = exp, opts, out, progress
        self.by_arm: dict[str, ServerProcess] = {}
        self.seed_by_arm: dict[str, SeedData | None] = {}
        self.config_by_arm: dict[str, dict[str, Any] | None] = {}
        self.kind_by_arm: dict[str, tuple[str, int, dict[str, str]]] = {}

    def start_downstream(self) -> dict[str, str]:
        """Experiments with ``downstream_env`` get one pricing process, shared by every arm."""
        if self.exp.downstream_env is None:
            return {}
        srv = ServerProcess(ServerConfig(app=DOWNSTREAM_APP, migrate_cmd=None, ready_path="/health",
                                         env=dict(self.exp.downstream_env)),
                            log_path=self.out / "logs" / "downstream.log")
        self.progress("starting the pricing downstream ...")
        self.enter_context(srv)
        self.progress(f"  downstream at {srv.base_url} (pid {srv.pid}), env {dict(self.exp.downstream_env)}")
        return {"REFAPP_PRICING_URL": srv.base_url}

    def start_all(self) -> None:
        started: dict[tuple[Any, ...], tuple[ServerProcess, SeedData | None, dict[str, Any] | None]] = {}
        downstream = self.start_downstream()
        for arm in self.exp.arms:
            n = len(started)
            workdir = self.out / "servers" / f"s{n}"
            base = base_server_env(self.opts, workdir)
            key = server_key(arm, self.opts.server, self.opts.workers, {**self.exp.app_env})
            if key not in started:
                kind, workers, _ = key
                env = {**base, **downstream, **self.exp.app_env, **arm.app_env}
                if self.opts.database_url is None:
                    workdir.mkdir(parents=True, exist_ok=True)
                cfg_kwargs: dict[str, Any] = {"server": kind, "workers": workers, "env": env}
                if self.opts.migrate_cmd is not None:
                    cfg_kwargs["migrate_cmd"] = self.opts.migrate_cmd
                cfg_kwargs.update(self.opts.server_overrides)
                srv = ServerProcess(ServerConfig(**cfg_kwargs), log_path=self.out / "logs" / f"server-s{n}.log")
                self.progress(f"starting {kind} ({workers} worker(s)) for arm {arm.name} ...")
                self.enter_context(srv)
                seeded = (seed(srv.base_url, items=self.exp.seed_items, seed=self.opts.seed,
                               label=f"load-s{n}") if self.exp.seed_items else None)
                started[key] = (srv, seeded, lab_config(srv.base_url))
                self.progress(f"  ready at {srv.base_url} (pid {srv.pid})"
                              + (f", seeded {len(seeded.item_ids)} items" if seeded else ""))
            srv, seeded, cfg = started[key]
            self.by_arm[arm.name], self.seed_by_arm[arm.name], self.config_by_arm[arm.name] = srv, seeded, cfg
            self.kind_by_arm[arm.name] = (key[0], key[1], {**self.exp.app_env, **arm.app_env})


def arm_doc(arm: Arm, exp: Experiment, users: int, servers: _Servers) -> dict[str, Any]:
    kind, workers, app_env = servers.kind_by_arm[arm.name]
    cfg = servers.config_by_arm[arm.name]
    bound = analysis.bound_for(arm.bound, users=users, io_ms=exp.io_ms, lab_config=cfg)
    doc: dict[str, Any] = {"name": arm.name, "description": arm.description, "server": kind, "workers": workers,
                           "app_env": dict(app_env), "profile": arm.profile,
                           "profile_env": dict(arm.profile_env), "bound": bound,
                           "expected_429_fraction": None, "lab_config": cfg}
    if arm.bound == "rate_limit" and bound and exp.per_user_rps:
        offered = users * exp.per_user_rps
        doc["offered_rps"] = offered
        doc["expected_429_fraction"] = analysis.expected_429_fraction(bound["rps"], offered)
    elif exp.per_user_rps:
        doc["offered_rps"] = users * exp.per_user_rps
        doc["expected_429_fraction"] = 0.0
    return doc


def profile_env(arm: Arm, exp: Experiment, opts: RunOptions, seeded: SeedData | None) -> dict[str, str]:
    env = {"HARNESS_SEED": str(opts.seed), **arm.profile_env}
    if exp.io_ms is not None:
        env["HARNESS_IO_MS"] = str(exp.io_ms)
    if exp.per_user_rps is not None:
        env["HARNESS_PER_USER_RPS"] = str(exp.per_user_rps)
    if seeded is not None:
        env.update(seeded.profile_env())
    return env


def round_doc(index: int, arm: str, warmup: bool, started_at: str, res: Mapping[str, Any]) -> dict[str, Any]:
    total, counters = res["total"], res.get("counters") or {}
    rate_limited = int(counters.get("rate_limited", 0))
    gen_cpu = float(res["generator_cpu_percent"])
    return {
        "index": index, "arm": arm, "warmup": warmup, "started_at": started_at,
        "duration_s": float(res["duration_s"]), "requests": int(total["requests"]), "rps": float(total["rps"]),
        "p50_ms": total["p50_ms"], "p95_ms": total["p95_ms"], "p99_ms": total["p99_ms"],
        "percentiles_ms": total["percentiles_ms"],
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
    }


def run_experiment(name: str, options: RunOptions | None = None, *, progress: Progress = print,
                   write: bool = True) -> dict[str, Any]:
    """Run experiment ``name``; returns the results document (and writes ``results.json``)."""
    opts = options or RunOptions()
    exp = get_experiment(name)
    if opts.aa:
        exp = aa_variant(exp)
    processes = opts.processes if opts.processes is not None else exp.generator_processes
    if processes < 1:
        raise exitcodes.HarnessError("--processes must be >= 1")
    opts = dataclasses.replace(opts, processes=processes)
    r = opts.resolved()
    users = opts.users or exp.users
    run_id = new_run_id()
    out = Path(opts.output) if opts.output else REPO_ROOT / "reports" / "runs" / run_id / name
    out.mkdir(parents=True, exist_ok=True)
    arm_names = [a.name for a in exp.arms]
    order = round_order(arm_names, r["rounds"], seed=opts.seed, method=opts.order)
    schedule = ([(a, True) for a in arm_names] if r["warmup"] > 0 else []) + [(a, False) for a in order]
    started = time.monotonic()
    progress(f"[{name}] run {run_id}: arms {', '.join(arm_names)}; {r['rounds']} rounds/arm x "
             f"{r['round_seconds']:g}s, warm-up {r['warmup']:g}s, {users} users, {opts.processes} process(es)")
    rounds: list[dict[str, Any]] = []
    with _Servers(exp, opts, out, progress) as servers:
        servers.start_all()
        arms = {a.name: a for a in exp.arms}
        arm_docs = [arm_doc(a, exp, users, servers) for a in exp.arms]
        counts = dict.fromkeys(arm_names, 0)
        drivers: dict[Path, LoadDriver] = {}
        settle_s = MIN_SETTLE_S
        for index, (arm_name, warm) in enumerate(schedule):
            arm, srv = arms[arm_name], servers.by_arm[arm_name]
            if not srv.alive():
                raise exitcodes.HarnessError(f"server for arm {arm_name} died; see {srv.log_path}",
                                             exitcodes.INVALID_RUN)
            if not warm:
                counts[arm_name] += 1
            label = "warm-up" if warm else f"round {counts[arm_name]}/{r['rounds']}"
            if arm.profile_path not in drivers:  # one Locust process (tree) per profile, reused every round
                progress(f"[{name}] starting Locust ({opts.processes} process(es)) for {arm.profile}.py ...")
                drivers[arm.profile_path] = servers.enter_context(
                    LoadDriver(arm.profile_path, processes=processes, log_path=out / "logs" / "locust.log"))
            spec = RoundSpec(host=srv.base_url, users=users, seconds=r["warmup"] if warm else r["round_seconds"],
                             spawn_rate=opts.spawn_rate, settle_s=settle_s,
                             options=profile_env(arm, exp, opts, servers.seed_by_arm[arm_name]))
            started_at = dt.datetime.now(dt.UTC).isoformat()
            prefix = f"[{name}] {arm_name} {label}"

            def live(event: Mapping[str, Any], prefix: str = prefix) -> None:
                progress(f"{prefix}: {event['elapsed']:4.1f}s live {event['rps']:7.0f} rps")

            res = drivers[arm.profile_path].run(spec, server_pids=srv.all_pids, on_progress=live)
            doc = round_doc(index, arm_name, warm, started_at, res)
            rounds.append(doc)
            settle_s = settle_after(doc)
            flag = "  SATURATED" if doc["saturated"] else ""
            progress(f"[{name}] {arm_name} {label} done: {doc['rps']:.0f} rps, p95 {doc['p95_ms']} ms, "
                     f"errors {doc['errors']}, 429 {doc['rate_limited']}, gen CPU {doc['generator_cpu_percent']:.0f}%, "
                     f"server CPU {doc['server_cpu_percent']:.0f}%, other {doc['other_cpu_percent']:.0f}%{flag}")
    doc = assemble(run_id, name, exp, opts, users, r, order, arm_docs, rounds)
    doc["elapsed_s"] = round(time.monotonic() - started, 1)
    if write:
        path = out / "results.json"
        path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        doc["_path"] = str(path)
        progress(f"[{name}] wrote {path}")
    return doc


def assemble(run_id: str, name: str, exp: Experiment, opts: RunOptions, users: int, r: Mapping[str, Any],
             order: list[str], arm_docs: list[dict[str, Any]], rounds: list[dict[str, Any]]) -> dict[str, Any]:
    summary = analysis.summarize(rounds, arm_docs)
    saturated = any(x["saturated"] and not x["warmup"] for x in rounds)
    comparisons = analysis.comparisons_for(rounds, [a["name"] for a in arm_docs],
                                           invalid_reason=analysis.SATURATED_REASON if saturated else None,
                                           seed=opts.seed)
    validity = analysis.validity(rounds, summary, aa=opts.aa, comparisons=comparisons)
    doc = {
        "format": "fastapi-harness.results", "format_version": 1, "run_id": run_id, "profile": name,
        "description": exp.description, "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "environment": fingerprint(opts.backend),
        "config": {"users": users, "spawn_rate": float(opts.spawn_rate or users),
                   "round_seconds": float(r["round_seconds"]), "rounds_per_arm": int(r["rounds"]),
                   "warmup_seconds": float(r["warmup"]),
                   "processes": opts.processes if opts.processes is not None else exp.generator_processes,
                   "seed": opts.seed,
                   "quick": opts.quick, "aa": opts.aa, "order": order, "order_method": opts.order,
                   "server": opts.server, "io_ms": exp.io_ms, "per_user_rps": exp.per_user_rps,
                   "seed_items": exp.seed_items},
        "arms": arm_docs, "rounds": rounds, "summary": summary, "comparisons": comparisons,
        "validity": validity, "checks": {**dict.fromkeys(exp.checks, 0.0), **analysis.aggregate_checks(rounds)},
    }
    validate(doc)
    return doc


def rerun_options(opts: RunOptions, **changes: Any) -> RunOptions:
    return dataclasses.replace(opts, **changes)
