"""``harness run``: the main job (``make run``): the target's load matrix, its microbenchmarks, one report.

1. runs the target's matrix (``[tool.harness] matrix``, default every configured experiment) through
   the load runner's Python API (``load.runner.ExperimentRun``); this repository's is the reference
   app's standard one: ``io``, ``cache``, ``ratelimit``, ``middleware`` and ``server``.
   Every experiment's servers and Locust processes are started first, concurrently (start-up is
   CPU-bound and nothing is measured yet); then the experiments are measured one after the other
   (they share two cores; measured side by side they would measure each other);
2. runs the target's microbenchmarks, if it declares any (``benchmarks = "tests/bench"``: ``pytest PATH
   -m bench --benchmark-json``), in a subprocess that starts with the servers and is held after
   collection until the load is over;
3. writes ``reports/runs/<run-id>/`` (each experiment's ``results.json`` and logs, ``bench.json``, and the
   report: ``index.html``, ``summary.md``, ``gates.junit.xml``, ``results.json``) and refreshes
   ``reports/latest/`` with the report files (both under the target's root);
4. prints the summary and exits by the gates (the target's ``gates``, e.g. gates.toml): 0 pass, 1 a gate failed (or a
   microbenchmark's own correctness check), 3 invalid run (an experiment could not run or its results
   can't be trusted, e.g. a saturated load generator), 2 bad input (checked before any load is started).

Plans: ``--quick`` (83-86 s measured on a quiet 2-core machine; target 90 s) and the default (176 s,
target 5 min); measured times, and where they go, are in docs/mainjob.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from harness import exitcodes
from harness.exitcodes import HarnessError
from harness.progress import add_verbosity, indent, is_live
from harness.target import Target, add_target_arguments, target_from_args
from reports import plans as stat_plans

REPORT_FILES = ("index.html", "summary.md", "gates.junit.xml", "results.json")
LATEST_EXTRAS = ("bench.json", "run.json")
# Autoloading every installed pytest plugin (schemathesis, cov, testcontainers, ...) costs seconds of CPU
# per process; the benchmarks need only these two (pytest-asyncio for the ini's asyncio_* keys).
BENCH_PYTEST_PLUGINS = ("-p", "pytest_benchmark.plugin", "-p", "pytest_asyncio.plugin", "-p", "no:cacheprovider")
Progress = Callable[[str], None]
#: Experiments starting at once: the whole standard matrix. Start-up is mostly CPU (imports), but each
#: start also waits (for the one-off migration, for its port to answer), and the others fill that time.
START_CONCURRENCY = 5


@dataclass(frozen=True)
class Plan:
    """How long each experiment measures, and how long the benchmarks may take."""

    name: str
    rounds: int  # measured rounds per arm
    round_seconds: float
    warmup: float  # one discarded round per arm
    bench_args: tuple[str, ...] = ()
    #: Users spawned per second: the io experiment's 200 users in 0.1 s rather than a second per round
    #: (Locust's default here: rate = users); the runner settles before it measures anyway.
    spawn_rate: float = 2000.0


# Round counts are the calibrated plans' (load.plans): exact intervals need 4 rounds per arm to reach 95%.
QUICK = Plan("quick", rounds=stat_plans.QUICK.rounds, round_seconds=0.75, warmup=0.5,
             bench_args=("--benchmark-max-time=0.05", "--benchmark-min-rounds=3", "--benchmark-warmup=off"))
DEFAULT = Plan("default", rounds=stat_plans.DEFAULT.rounds, round_seconds=2.0, warmup=1.0,
               bench_args=("--benchmark-max-time=0.5",))


@dataclass
class JobConfig:
    target: Target
    experiments: tuple[str, ...] = ()
    plan: Plan = DEFAULT
    backend: str = "sqlite"
    gates: Path | None = None
    baseline: Path | None = None
    strict_inconclusive: bool = False
    skip_bench: bool = False
    output_dir: Path | None = None  # default <target root>/reports/runs/<run-id>
    latest_dir: Path | None = None  # None: don't refresh
    seed: int = 0
    verbose: bool = False
    run_id: str = ""


@dataclass
class Outcome:
    run_dir: Path
    exit_code: int
    results: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # experiment -> why it produced no results
    bench: str = "skipped"  # skipped | passed | failed | error
    report_outcome: str = ""
    elapsed_s: float = 0.0


class ExperimentHandle(Protocol):
    """One experiment of the matrix: ``start`` (servers, load generators) may run concurrently with
    other experiments' starts; ``measure`` runs alone and returns the path of its results.json."""

    def start(self) -> None: ...

    def measure(self) -> Path: ...

    def close(self) -> None: ...


# (name, run options, progress, state shared by the job's experiments: the target, then the migrated
# schema and the Locust processes) -> handle. Tests substitute a stub.
# Whatever the handles put in the shared dict and has a ``close()`` is closed at the end of the matrix.
ExperimentFactory = Callable[[str, Any, Progress, dict[str, Any]], ExperimentHandle]
class BenchHandle(Protocol):
    def finish(self) -> tuple[int, Path | None]: ...

    def abort(self) -> None: ...


# (run dir, plan, progress) -> a started, held benchmark run. Tests substitute a stub.
BenchStarter = Callable[[Path, Plan, Progress], BenchHandle]


def worst(*codes: int) -> int:
    """Combine exit codes: invalid run (3) wins over a failed gate (1), which wins over success."""
    for code in (exitcodes.INVALID_RUN, exitcodes.USAGE, exitcodes.GATE_FAILED):
        if code in codes:
            return code
    return exitcodes.OK


class LoadExperiment:
    """``load.runner.ExperimentRun`` as an ``ExperimentHandle``. The job's experiments share one
    ``MigratedSchema`` (migrations run once per job, not once per server) and one ``DriverPool``
    (one Locust process tree per profile and process count)."""

    def __init__(self, name: str, options: Any, progress: Progress, shared: dict[str, Any]) -> None:
        from load.experiment import get_experiment
        from load.runner import DriverPool, ExperimentRun
        from load.servers import MigratedSchema

        run_dir = Path(options.output).parent
        target: Target = shared["target"]
        if "schema" not in shared:
            shared["schema"] = MigratedSchema(target, options, run_dir / "schema")
            # closed by the job, after the last experiment
            shared["drivers"] = DriverPool(run_dir / "logs", cwd=target.root)
        self.run = ExperimentRun(get_experiment(target, name), target, options, progress=progress,
                                 schema=shared["schema"], drivers=shared["drivers"])

    def start(self) -> None:
        self.run.start()

    def measure(self) -> Path:
        return Path(self.run.measure()["_path"])

    def close(self) -> None:
        self.run.close()


class HeldBenchmarks:
    """``pytest tests/bench -m bench --benchmark-json`` in a subprocess, started early and held.

    The process starts with the servers (its imports are seconds of CPU, spent while that phase is
    CPU-bound anyway) and waits after collection on a pipe (``HARNESS_BENCH_HOLD_FD``, read by
    tests/bench/conftest.py). ``finish()`` releases it once every load process is gone, so the
    benchmarks themselves run on a quiet machine, and returns pytest's exit code and the JSON path.
    """

    def __init__(self, run_dir: Path, plan: Plan, progress: Progress, *, path: str = "tests/bench",
                 cwd: Path | None = None) -> None:
        import subprocess

        self.out, self.log, self.progress = run_dir / "bench.json", run_dir / "bench.log", progress
        cmd = [sys.executable, "-m", "pytest", path, "-m", "bench", f"--benchmark-json={self.out}", "-q",
               *BENCH_PYTEST_PLUGINS, "--benchmark-columns=min,median,mean,rounds", *plan.bench_args]
        hold_read, self._hold = os.pipe()
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "HARNESS_BENCH_HOLD_FD": str(hold_read)}
        progress(f"[bench] starting (held until the load is over): {' '.join(cmd[1:])}")
        with self.log.open("w", encoding="utf-8") as fh:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, pass_fds=(hold_read,))
        os.close(hold_read)

    def _release(self, word: bytes) -> None:
        if self._hold < 0:
            return
        with contextlib.suppress(OSError):  # BrokenPipe: pytest already ended (see its log)
            os.write(self._hold, word + b"\n")
        os.close(self._hold)
        self._hold = -1

    def finish(self) -> tuple[int, Path | None]:
        import subprocess

        self._release(b"go")
        released = time.monotonic()
        try:
            code = self.proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.progress(f"[bench] timed out after 600 s; see {self.log}")
            return exitcodes.INVALID_RUN, None
        tail = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        # pytest's own "in N s" counts the hold too; this is the time from the release.
        self.progress(f"[bench] pytest exit {code} {time.monotonic() - released:.1f} s after the release: "
                      f"{tail[0]} (log {self.log})")
        return code, self.out if self.out.is_file() else None

    def abort(self) -> None:
        """The job ends without benchmarks (an error, Ctrl-C): the held process exits at once."""
        self._release(b"stop")
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)
        if self.proc.poll() is None:
            self.proc.kill()


def start_benchmarks(run_dir: Path, plan: Plan, progress: Progress, *, path: str = "tests/bench",
                     cwd: Path | None = None) -> BenchHandle:
    return HeldBenchmarks(run_dir, plan, progress, path=path, cwd=cwd)


def _check_inputs(cfg: JobConfig) -> None:
    """Everything that can be wrong with the input is found before minutes of load are spent (exit 2)."""
    known = cfg.target.experiments
    if not known:
        where = cfg.target.config_file or ("no [tool.harness] applies: none was found, or --app names another app "
                                           "than the configured one, whose experiments are not used")
        raise HarnessError(f"no experiments configured ({where}); declare [tool.harness.experiments.NAME] "
                           "(see `harness init`, docs/target.md)")
    if not cfg.experiments:
        raise HarnessError("--only: no experiment given")
    unknown = [e for e in cfg.experiments if e not in known]
    if unknown:
        raise HarnessError(f"--only: unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(known)} "
                           f"(matrix: {', '.join(cfg.target.run_matrix())})")
    if len(set(cfg.experiments)) != len(cfg.experiments):
        raise HarnessError("--only: an experiment is named twice")
    soaks = [e for e in cfg.experiments if known[e].soak is not None]
    if soaks:
        raise HarnessError(f"--only: {', '.join(soaks)} is a soak (minutes of one arm, no A/B rounds); run it "
                           f"with `harness load run {soaks[0]}`")
    if cfg.backend not in ("sqlite", "postgres"):
        raise HarnessError(f"--backend must be sqlite or postgres, not {cfg.backend!r}")
    if cfg.gates is not None:
        from reports.gatespec import load_gates

        if not cfg.gates.is_file():
            raise HarnessError(f"--gates: no such file {cfg.gates}")
        load_gates(cfg.gates)  # parse errors are exit 2, now rather than after the load
    if cfg.baseline is not None:
        from reports import baseline as baseline_file

        if not cfg.baseline.is_file():
            raise HarnessError(f"--baseline: no such file {cfg.baseline} (create one with `harness baseline save`)")
        baseline_file.load(cfg.baseline)


def estimate_seconds(cfg: JobConfig) -> float:
    """A rough duration for the progress header, from measured costs on a 2-core machine: start-up
    is CPU-bound (~4 CPU-s per server, ~1.5 per Locust process) and runs concurrently; rounds run
    one at a time, each with ~0.5 s of spawn/settle/stop around its measured seconds."""
    from load.experiment import from_target, server_key

    experiments = from_target(cfg.target)
    p = cfg.plan
    # the report, plus the benchmarks once released (their start-up overlaps the servers')
    total = 4.0 + (0.0 if cfg.skip_bench else (3.0 if p is QUICK else 5.0))
    start_cpu = 2.0  # the one-off migration
    for name in cfg.experiments:
        exp = experiments[name]
        servers = len({server_key(a, "uvicorn", 2, exp.app_env) for a in exp.arms})  # as the runner starts them
        procs = exp.generator_processes
        start_cpu += 4.0 * servers + 1.5 * (procs + (procs > 1))
        overhead = 0.5 + 0.2 * (procs - 1)
        seconds = max(p.round_seconds, float(exp.plan.get("min_round_seconds", 0.0)))
        per_arm = (p.warmup + overhead if p.warmup else 0.0) + p.rounds * (seconds + overhead)
        total += len(exp.arms) * per_arm + 0.5
    return total + start_cpu / 2.5  # two cores, and part of each start is waiting, not CPU


def _options(cfg: JobConfig, name: str, run_dir: Path, urls: tuple[str | None, str | None]) -> Any:
    from load.runner import RunOptions

    p = cfg.plan
    return RunOptions(quick=p is QUICK, rounds=p.rounds, round_seconds=p.round_seconds, warmup=p.warmup,
                      spawn_rate=p.spawn_rate, seed=cfg.seed, backend=cfg.backend, database_url=urls[0],
                      redis_url=urls[1], output=run_dir / name)


def _refresh_latest(run_dir: Path, latest: Path) -> None:
    """Replace ``latest`` with the report files of this run (built aside, then swapped in)."""
    staging = latest.with_name(latest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in (*REPORT_FILES, *LATEST_EXTRAS):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, staging / name)
    shutil.rmtree(latest, ignore_errors=True)
    staging.rename(latest)


def _job_section(outcome: Outcome, cfg: JobConfig) -> str:
    lines = ["", "### Main job", "",
             f"- run `{cfg.run_id}` ({cfg.plan.name} plan, backend {cfg.backend}): "
             f"{len(outcome.results)}/{len(cfg.experiments)} experiments produced results in "
             f"{outcome.elapsed_s:.0f} s",
             f"- microbenchmarks: {outcome.bench}"]
    lines += [f"- **{name} did not run**: {why}" for name, why in outcome.failed.items()]
    lines.append(f"- exit code {outcome.exit_code}")
    return "\n".join(lines) + "\n"


def _failed(outcome: Outcome, name: str, exc: BaseException, progress: Progress) -> None:
    """Record why ``name`` produced no results; bad input (exit 2) is re-raised."""
    if isinstance(exc, HarnessError):
        if exc.exit_code == exitcodes.USAGE:
            raise exc
        outcome.failed[name] = str(exc)
        progress(f"   [{name}] FAILED (exit {exc.exit_code}): {exc}")
    elif isinstance(exc, Exception):  # one broken experiment must not lose the others' results
        outcome.failed[name] = f"internal error: {type(exc).__name__}: {exc}"
        tb = "".join(traceback.format_exception(exc))
        progress(f"   [{name}] FAILED with an internal error:\n{tb}")
    else:
        raise exc  # KeyboardInterrupt, SystemExit


def _import_report_modules() -> None:
    """The report's imports (matplotlib, numpy), done while the servers start rather than at the end."""
    for module in ("reports.html", "reports.plots"):
        importlib.import_module(module)


def _close_quietly(thing: Any) -> None:
    close = getattr(thing, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):  # teardown is best effort; every process group gets SIGKILL last
            close()


def _run_matrix(cfg: JobConfig, outcome: Outcome, urls: tuple[str | None, str | None], make: ExperimentFactory,
                progress: Progress, started: float, *, keep_live: bool = False) -> None:
    """Start every experiment (concurrently), then measure them one by one, each on a quiet machine."""
    n = len(cfg.experiments)

    def forward(line: str) -> None:
        # The per-second rps lines are printed with --verbose; a live display shows them either way.
        if keep_live or not is_live(line):
            progress(indent("   ", line))

    handles: dict[str, ExperimentHandle] = {}
    shared: dict[str, Any] = {"target": cfg.target}  # and, from the first experiment, what they share
    try:
        for name in cfg.experiments:
            try:
                handles[name] = make(name, _options(cfg, name, outcome.run_dir, urls), forward, shared)
            except Exception as exc:  # noqa: BLE001 - recorded per experiment by _failed (exit 2 re-raised)
                _failed(outcome, name, exc, progress)
        progress(f"== starting {len(handles)} experiment(s): servers and load generators, concurrently "
                 f"(nothing is measured until all are up)")
        with ThreadPoolExecutor(max_workers=min(START_CONCURRENCY, len(handles)) + 1) as pool:
            futures = {name: pool.submit(h.start) for name, h in handles.items()}
            warm = pool.submit(_import_report_modules)  # seconds of imports, off the critical path
            for name, future in futures.items():
                error = future.exception()
                if error is not None:
                    handles.pop(name).close()
                    _failed(outcome, name, error, progress)
            warm.result()
        progress(f"   started in {time.monotonic() - started:.0f} s")
        # A measured experiment's processes are stopped in the background, during the next one's
        # warm-up rounds (which are discarded); all are gone before the microbenchmarks run.
        with ThreadPoolExecutor(max_workers=1) as closer:
            for k, name in enumerate(cfg.experiments, 1):
                if name not in handles:
                    continue
                progress(f"== [{k}/{n}] {name} ({time.monotonic() - started:.0f} s elapsed)")
                try:
                    outcome.results[name] = handles[name].measure()
                except Exception as exc:  # noqa: BLE001 - recorded per experiment by _failed (exit 2 re-raised)
                    _failed(outcome, name, exc, progress)
                finally:
                    closer.submit(_close_quietly, handles.pop(name))
    finally:
        for handle in handles.values():  # whatever is still up after an error or Ctrl-C
            _close_quietly(handle)
        for resource in shared.values():
            _close_quietly(resource)


def execute(cfg: JobConfig, *, experiment: ExperimentFactory | None = None,
            bench: BenchStarter | None = None, progress: Progress = print) -> Outcome:
    """The main job. Returns the outcome; every failure to run becomes an exit code, not an exception,
    except bad input (``HarnessError`` with exit 2), which is raised before any work starts.
    ``experiment``/``bench`` default to the real ones (looked up at call time, so tests can stub them)."""
    from harness.mainjob_backend import backend_urls
    from load.runner import new_run_id, serialized
    from reports import render

    # The per-second rps lines go out with --verbose, or to a progress that shows them in place
    # (harness.progress.Reporter on a terminal).
    keep_live = cfg.verbose or bool(getattr(progress, "wants_live_lines", False))
    progress = serialized(progress)  # experiments start concurrently and all report here
    target = cfg.target
    make = experiment or LoadExperiment
    start_bench = bench or partial(start_benchmarks, path=target.benchmarks or "", cwd=target.root)
    if not target.benchmarks and bench is None:
        cfg = replace(cfg, skip_bench=True)
    _check_inputs(cfg)
    started = time.monotonic()
    cfg = replace(cfg, run_id=cfg.run_id or new_run_id())
    run_dir = cfg.output_dir or target.root / "reports" / "runs" / cfg.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(run_dir=run_dir, exit_code=exitcodes.OK)
    n = len(cfg.experiments)
    progress(f"harness run {cfg.run_id}: {n} experiment(s) ({', '.join(cfg.experiments)}), {cfg.plan.name} plan "
             f"({cfg.plan.rounds} rounds/arm x {cfg.plan.round_seconds:g} s, warm-up {cfg.plan.warmup:g} s), "
             f"backend {cfg.backend}, benchmarks {'skipped' if cfg.skip_bench else 'on'}; "
             f"about {estimate_seconds(cfg):.0f} s; output {run_dir}")
    held = None if cfg.skip_bench else start_bench(run_dir, cfg.plan, progress)
    try:
        with backend_urls(cfg.backend, progress) as urls:
            _run_matrix(cfg, outcome, urls, make, progress, started, keep_live=keep_live)
    except BaseException:
        if held is not None:
            held.abort()
        raise
    bench_json = None
    bench_code = exitcodes.OK
    if held is not None:
        progress(f"== [bench] microbenchmarks ({time.monotonic() - started:.0f} s elapsed)")
        code, bench_json = held.finish()
        # pytest: 1 = a benchmark's own assertion failed (wrong result: a failed check); anything else
        # (usage, internal error, nothing collected, timeout) means the benchmarks could not run.
        outcome.bench = {0: "passed", 1: "failed"}.get(code, f"error (pytest exit {code})")
        bench_code = {0: exitcodes.OK, 1: exitcodes.GATE_FAILED}.get(code, exitcodes.INVALID_RUN)
        if bench_json is None and code in (0, 1):
            outcome.bench, bench_code = "error (no bench.json written)", exitcodes.INVALID_RUN
    if not outcome.results:
        outcome.elapsed_s = time.monotonic() - started
        outcome.exit_code = exitcodes.INVALID_RUN
        progress("no experiment produced results; no report written")
        return outcome
    data = render.gather([outcome.results[e] for e in cfg.experiments if e in outcome.results],
                         gates=cfg.gates, baseline=cfg.baseline, strict_inconclusive=cfg.strict_inconclusive,
                         bench=bench_json)
    paths = render.write(data, run_dir)
    outcome.report_outcome = str(data.outcome)
    outcome.exit_code = worst(data.exit_code, bench_code,
                              exitcodes.INVALID_RUN if outcome.failed else exitcodes.OK)
    outcome.elapsed_s = time.monotonic() - started
    with paths["summary.md"].open("a", encoding="utf-8") as fh:
        fh.write(_job_section(outcome, cfg))
    manifest = {"run_id": cfg.run_id, "plan": cfg.plan.name, "backend": cfg.backend, "seed": cfg.seed,
                "experiments": list(cfg.experiments), "results": {k: str(v) for k, v in outcome.results.items()},
                "failed": outcome.failed, "bench": outcome.bench, "gates": str(cfg.gates) if cfg.gates else None,
                "baseline": str(cfg.baseline) if cfg.baseline else None, "report_outcome": outcome.report_outcome,
                "exit_code": outcome.exit_code, "elapsed_s": round(outcome.elapsed_s, 1), "run_dir": str(run_dir)}
    (run_dir / "run.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if cfg.latest_dir is not None:
        _refresh_latest(run_dir, cfg.latest_dir)
    return outcome


# -- CLI ----------------------------------------------------------------------------------------------

def parse_only(text: str | None, target: Target) -> tuple[str, ...]:
    if text is None:
        return tuple(target.run_matrix())
    return tuple(part.strip() for part in text.split(",") if part.strip())


def config_from_args(args: argparse.Namespace) -> JobConfig:
    from harness.target import cwd_path

    target = target_from_args(args)
    gates = cwd_path(args.gates) if args.gates else target.gates
    latest = cwd_path(args.latest_dir) if args.latest_dir else target.root / "reports" / "latest"
    return JobConfig(
        target=target, experiments=parse_only(args.only, target), plan=QUICK if args.quick else DEFAULT,
        backend=args.backend, gates=None if args.no_gates else gates,
        baseline=cwd_path(args.baseline) if args.baseline else None,
        strict_inconclusive=args.strict_inconclusive, skip_bench=args.skip_bench,
        output_dir=cwd_path(args.output_dir) if args.output_dir else None,
        latest_dir=None if args.no_latest else latest, seed=args.seed, verbose=args.verbose)


def cmd_run(args: argparse.Namespace) -> int:
    from harness.progress import Reporter

    cfg = config_from_args(args)
    estimate = None
    with contextlib.suppress(KeyError):  # an unknown --only name: execute() refuses it with exit 2
        estimate = estimate_seconds(cfg)
    reporter = Reporter("harness run", verbose=cfg.verbose, quiet=args.quiet, estimate_s=estimate)
    with reporter:
        outcome = execute(cfg, progress=reporter)
    summary = outcome.run_dir / "summary.md"
    if summary.is_file():
        reporter.summary(summary.read_text(encoding="utf-8"))
    where = f"; latest: {cfg.latest_dir}" if cfg.latest_dir is not None and outcome.results else ""
    reporter.echo(f"report: {outcome.run_dir}{where}")
    verdict = outcome.report_outcome or "no report"
    reporter.echo(f"harness run: {verdict}, {outcome.elapsed_s:.0f} s -> exit {outcome.exit_code}")
    return outcome.exit_code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run", help="main job: the target's load matrix + microbenchmarks -> reports/latest, exit by the gates",
        description=__doc__, epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"short rounds ({QUICK.rounds} x {QUICK.round_seconds:g} s per arm), "
                        "quick benchmarks: about 1.5 min")
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                   help="sqlite (embedded, default) or postgres: HARNESS_DATABASE_URL/HARNESS_REDIS_URL, "
                        "else PostgreSQL and Redis containers (harness containers prepare)")
    p.add_argument("--gates", type=Path, help="gates file (default: the configured `gates`)")
    p.add_argument("--no-gates", action="store_true", help="report only; exit 0 unless the run is invalid")
    p.add_argument("--baseline", type=Path, help="baseline for baseline gates (harness baseline save)")
    p.add_argument("--strict-inconclusive", action="store_true", help="an inconclusive gate fails the job")
    p.add_argument("--only", metavar="A,B", help="comma-separated experiments (default: the configured matrix)")
    p.add_argument("--skip-bench", action="store_true", help="don't run the microbenchmarks")
    p.add_argument("-o", "--output-dir", type=Path, help="run directory (default reports/runs/<run-id>)")
    p.add_argument("--latest-dir", type=Path, help="refreshed with the report files (default reports/latest)")
    p.add_argument("--no-latest", action="store_true", help="don't touch the latest directory")
    p.add_argument("--seed", type=int, default=0, help="seed for round order and data (default 0)")
    add_verbosity(p)
    add_target_arguments(p)
    p.set_defaults(handler=cmd_run)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - `python -m harness.mainjob`
    from harness.cli import main as cli_main

    return cli_main(["run", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
