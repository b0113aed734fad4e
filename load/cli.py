"""``harness load run NAME | -f LOCUSTFILE --arm ... [...]`` and ``harness load list``."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness import exitcodes
from harness.progress import Reporter, add_verbosity
from harness.target import add_target_arguments, cwd_path, load_target, target_from_args

if TYPE_CHECKING:
    from rich.table import Table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = subparsers.add_parser("load", help="Locust experiments comparing variants side by side",
                                 description="Interleaved A/B load experiments with exact CIs (docs/reports.md).",
                                 epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = load.add_subparsers(dest="load_command", metavar="ACTION", required=True)

    run = sub.add_parser(
        "run", help="run an experiment and write results.json",
        description="Either a configured experiment (`harness load run NAME`, [tool.harness.experiments.NAME]) "
        "or your locustfile with arms given here: `-f LOCUSTFILE --arm NAME=URL --arm NAME=URL` against "
        "running services, or `-f LOCUSTFILE --app MODULE:ATTR --arm NAME[:KEY=VAL,...] ...` where the "
        "harness starts one server per arm with those environment differences.",
        epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("profile", nargs="?", metavar="NAME", help="a configured experiment (see `harness load list`)")
    run.add_argument("-f", "--locustfile", type=Path, help="your locustfile, run unchanged")
    run.add_argument("--arm", action="append", default=[], metavar="NAME=URL|NAME[:KEY=VAL,...]",
                     help="an arm: a running service's URL, or env differences of a server the harness starts")
    run.add_argument("--quick", action="store_true",
                     help="4 rounds/arm x 4 s, 2 s warm-up (CI smoke; default 6 x 12 s, 5 s warm-up)")
    run.add_argument("--aa", action="store_true",
                     help="A/A: the same arm twice; valid when every metric is shown equivalent within the "
                          "plan's margin (with --quick: 10 rounds/arm, reports.plans.QUICK_AA)")
    run.add_argument("--users", type=int, help="concurrent Locust users (default: per experiment, else 20)")
    run.add_argument("--round-seconds", type=float, help="measured seconds per round")
    run.add_argument("--rounds", type=int, help="measured rounds per arm")
    run.add_argument("--warmup", type=float, help="discarded warm-up seconds per arm (0: none)")
    run.add_argument("--processes", type=int, default=None,
                     help="Locust processes: >1 runs a local master plus that many workers "
                          "(default: the experiment's own)")
    run.add_argument("--seed", type=int, default=0, help="seed for round order and data")
    run.add_argument("--order", choices=("abba", "random"), default="abba", help="round interleaving")
    run.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    run.add_argument("--database-url", help="database URL for the servers (into [tool.harness.backend] "
                     "database_url_env)")
    run.add_argument("--redis-url", help="Redis URL for the servers (into [tool.harness.backend] redis_url_env)")
    run.add_argument("--server", choices=("uvicorn", "gunicorn", "command"), default=None,
                     help="server for arms that don't pin one (default: the configured serve.kind)")
    run.add_argument("--workers", type=int, default=2, help="gunicorn workers for arms that don't pin them")
    run.add_argument("--duration", type=float, metavar="SECONDS",
                     help="soak experiments: seconds of load (default: the soak's plan, quick or long)")
    run.add_argument("--sample-every", type=float, metavar="SECONDS",
                     help="soak experiments: seconds between memory samples (default: the soak's plan)")
    run.add_argument("-o", "--output", type=Path, help="output directory (default reports/runs/<run-id>/<name>/)")
    dist = run.add_argument_group(
        "across machines", "Locust's distributed mode: this run is the master, `harness load worker --master "
        "HOST:PORT` processes (here or on other machines) generate the load (docs/load.md)")
    dist.add_argument("--master-bind", metavar="HOST:PORT",
                      help="address the master listens on for workers (0.0.0.0:5557 for other machines)")
    dist.add_argument("--expect-workers", type=int, metavar="N",
                      help="wait for N workers before the first round (bounded by --worker-timeout)")
    dist.add_argument("--min-workers", type=int, metavar="M",
                      help="go on after losing workers while at least M are left, else stop with exit 3 "
                           "(default: N, so losing any worker stops the run)")
    dist.add_argument("--worker-timeout", type=float, default=60.0, metavar="S",
                      help="seconds to wait for the workers to join (default 60)")
    dist.add_argument("--remote-target", action="store_true",
                      help="allow URL arms that are not on this machine's loopback (a service in your cluster); "
                           "only with --master-bind, since the workers send the load")
    add_verbosity(run, verbose_help="on a terminal, also print the live rps line every second")
    add_target_arguments(run)
    run.set_defaults(handler=_run)

    worker = sub.add_parser(
        "worker", help="a Locust worker for a `harness load run --master-bind ...` master",
        description="Connects to the master, receives the locustfile and every round's options from it (Locust's "
        "`-f -`), and reports its CPU with its heartbeats. Refused, with exit 2, when its harness or Locust "
        "version differs from the master's. Exits when the master ends the run.",
        epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--master", required=True, metavar="HOST[:PORT]",
                        help="the master's address (port default 5557, Locust's)")
    worker.add_argument("--loglevel", default="WARNING", help="Locust's log level (default WARNING)")
    worker.set_defaults(handler=_worker)

    lst = sub.add_parser("list", help="list the configured experiments")
    lst.set_defaults(handler=_list)


def _worker(args: argparse.Namespace) -> NoReturn:
    import os

    from harness.cli import require
    from load.cluster import parse_hostport

    require("locust")
    host, port = parse_hostport(args.master)
    argv = [sys.executable, "-m", "load.remote_worker", host, str(port), "--loglevel", args.loglevel]
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # noqa: S606 - this interpreter, fixed module: Locust must be imported first


def cluster_options(args: argparse.Namespace) -> Any:
    """``ClusterOptions`` from the run flags, or None; exit 2 on a partial or inconsistent set."""
    from load.cluster import ClusterOptions, parse_hostport

    given = [f for f in ("master_bind", "expect_workers", "min_workers") if getattr(args, f) is not None]
    if not given:
        if args.remote_target:
            raise exitcodes.HarnessError("--remote-target goes with --master-bind: only remote workers may "
                                         "load a service off this machine")
        return None
    if args.master_bind is None or args.expect_workers is None:
        raise exitcodes.HarnessError("--master-bind HOST:PORT and --expect-workers N go together")
    if args.processes not in (None, 1):
        raise exitcodes.HarnessError("--processes starts local workers; with --expect-workers the workers are "
                                     "`harness load worker` processes: give one or the other")
    host, port = parse_hostport(args.master_bind, flag="--master-bind")
    return ClusterOptions(host, port, args.expect_workers,
                          args.min_workers if args.min_workers is not None else args.expect_workers,
                          args.worker_timeout)


def _list(args: argparse.Namespace) -> int:
    target = load_target()
    print(f"experiments of {target.config_file or 'no [tool.harness] found'} (harness load run NAME):")
    for name, exp in target.experiments.items():
        arms = " vs ".join(a.name for a in exp.arms)
        print(f"  {name:<11} {arms:<28} {exp.description}")
    return exitcodes.OK


def check_locustfile(path: Path) -> Path:
    """Exit 2 naming the file (and line) for a missing or unparsable locustfile, before anything starts."""
    if not path.is_file():
        raise exitcodes.HarnessError(f"-f {path}: no such locustfile")
    try:
        compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as exc:
        raise exitcodes.HarnessError(f"{path}:{exc.lineno}: syntax error in the locustfile: {exc.msg}") from exc
    return path


def _run(args: argparse.Namespace) -> int:
    from harness import appload
    from harness.cli import require
    from load.experiment import adhoc, get_experiment

    require("locust")  # the driver subprocess imports it; say which extra now, not in its log
    from load.runner import RunOptions, run_experiment

    for flag in ("users", "rounds", "processes", "workers"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise exitcodes.HarnessError(f"--{flag} must be >= 1")
    if args.round_seconds is not None and args.round_seconds <= 0:
        raise exitcodes.HarnessError("--round-seconds must be > 0")
    if args.warmup is not None and args.warmup < 0:
        raise exitcodes.HarnessError("--warmup must be >= 0")
    cluster = cluster_options(args)
    target = target_from_args(args)
    if args.locustfile is not None:
        if args.profile and args.profile in target.experiments:
            raise exitcodes.HarnessError("give either a configured experiment NAME or -f LOCUSTFILE, not both")
        exp = adhoc(check_locustfile(cwd_path(args.locustfile)), args.arm, name=args.profile)
    elif args.profile:
        if args.arm:
            raise exitcodes.HarnessError("--arm goes with -f LOCUSTFILE; a configured experiment has its own arms")
        exp = get_experiment(target, args.profile)
        for path in {a.locustfile for a in exp.arms}:
            check_locustfile(path)
    else:
        raise exitcodes.HarnessError("give a configured experiment NAME, or -f LOCUSTFILE with --arm ... "
                                     "(see `harness load run --help`)")
    if any(a.url is None for a in exp.arms):
        appload.check_importable(target)  # exit 2 with the import error, before any server starts
    if exp.soak is None and (args.duration is not None or args.sample_every is not None):
        raise exitcodes.HarnessError("--duration and --sample-every go with a soak experiment")
    for flag in ("duration", "sample_every"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise exitcodes.HarnessError(f"--{flag.replace('_', '-')} must be > 0")
    opts = RunOptions(quick=args.quick, aa=args.aa, users=args.users, round_seconds=args.round_seconds,
                      rounds=args.rounds, warmup=args.warmup, processes=args.processes, seed=args.seed,
                      backend=args.backend, database_url=args.database_url, redis_url=args.redis_url,
                      server=args.server, workers=args.workers,
                      output=cwd_path(args.output) if args.output else None, order=args.order, cluster=cluster,
                      remote_target=args.remote_target)
    if exp.soak is not None:
        if cluster is not None:
            raise exitcodes.HarnessError("a soak runs its load generator here; --master-bind is for A/B experiments")
        if args.aa or args.rounds or args.round_seconds:
            raise exitcodes.HarnessError("--aa, --rounds and --round-seconds are for A/B experiments; a soak "
                                         "takes --duration, --warmup and --sample-every")
        from load.soak import exit_code, print_soak, run_soak

        soak_reporter = Reporter(f"harness load run {exp.name}", verbose=args.verbose, quiet=args.quiet,
                                 timestamps=False)
        with soak_reporter:
            soak_doc = run_soak(exp, target, opts, duration=args.duration, sample_s=args.sample_every,
                                progress=soak_reporter)
        print_soak(soak_doc)
        return exit_code(soak_doc)
    reporter = Reporter(f"harness load run {exp.name}", verbose=args.verbose, quiet=args.quiet,
                        estimate_s=estimate_seconds(exp, opts), timestamps=False)
    with reporter:
        doc = run_experiment(exp, target, opts, progress=reporter)
    text = io.StringIO()
    print_report(doc, text)
    reporter.table(report_table(doc), text.getvalue())
    return exitcodes.OK if doc["validity"]["valid"] else exitcodes.INVALID_RUN


def estimate_seconds(exp: Any, opts: Any) -> float:
    """For the live display's "left": the rounds (plus ~0.5 s of spawn/settle/stop each) and start-up."""
    r = opts.resolved(exp.plan)
    arms = 2 if opts.aa else len(exp.arms)
    per_arm = (r["warmup"] + 0.5 if r["warmup"] else 0.0) + r["rounds"] * (r["round_seconds"] + 0.5)
    return float(10.0 + arms * per_arm)


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(doc: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    print(f"\n{doc['profile']} ({doc['run_id']}): {doc.get('description', '')}", file=out)
    print(f"  {'arm':<14}{'rps':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'err%':>7}{'429%':>7}{'bound':>8}"
          f"{'meas/bnd':>9}{'genCPU':>8}{'srvCPU':>8}", file=out)
    arms = {a["name"]: a for a in doc["arms"]}
    for name, s in doc["summary"].items():
        bound = arms[name]["bound"]
        print(f"  {name:<14}{s['rps_median']:>9.0f}{_fmt(s['p50_ms_median']):>8}{_fmt(s['p95_ms_median']):>8}"
              f"{_fmt(s['p99_ms_median']):>8}{100 * s['error_rate']:>7.2f}{100 * s['rate_limited_fraction']:>7.1f}"
              f"{_fmt(bound['rps'] if bound else None, '.0f'):>8}{_fmt(s['measured_over_bound'], '.2f'):>9}"
              f"{s['generator_cpu_percent_max']:>8.0f}{s['server_cpu_percent_median']:>8.0f}", file=out)
        if arms[name].get("expected_429_fraction") is not None and arms[name]["bound"]:
            print(f"  {'':<14}expected 429 share {arms[name]['expected_429_fraction']:.2f} at the offered "
                  f"{arms[name].get('offered_rps', 0):.0f} rps, measured {s['rate_limited_fraction']:.2f}", file=out)
    for c in doc["comparisons"]:
        print(f"  {c['metric']:<7} {c['numerator']}/{c['denominator']}: {c['estimate']:.3f} "
              f"[{c['low']:.3f}, {c['high']:.3f}] -> {c['verdict']}", file=out)
    for key, value in doc.get("checks", {}).items():
        print(f"  check {key}: {value:g}", file=out)
    v = doc["validity"]
    print(f"  validity: {'valid' if v['valid'] else 'INVALID'}" + "".join(f"\n    {r}" for r in v["reasons"]),
          file=out)
    for note in v.get("notes", []):
        print(f"  note: {note}", file=out)
    if doc.get("_path"):
        print(f"  results: {doc['_path']}", file=out)


def report_table(doc: dict[str, Any]) -> Table:
    """``print_report``'s arms and comparisons as a rich table (the live display's closing summary)."""
    from rich.table import Table

    v = doc["validity"]
    caption = [f"validity: {'valid' if v['valid'] else 'INVALID'}", *v["reasons"],
               *(f"note: {n}" for n in v.get("notes", []))]
    caption += [f"{c['metric']} {c['numerator']}/{c['denominator']}: {c['estimate']:.3f} "
                f"[{c['low']:.3f}, {c['high']:.3f}] -> {c['verdict']}" for c in doc["comparisons"]]
    caption += [f"check {key}: {value:g}" for key, value in doc.get("checks", {}).items()]
    if doc.get("_path"):
        caption.append(f"results: {doc['_path']}")
    table = Table(title=f"{doc['profile']} ({doc['run_id']}): {doc.get('description', '')}",
                  caption="\n".join(caption), caption_justify="left")
    table.add_column("arm", style="bold")
    for column in ("rps", "p50", "p95", "p99", "err%", "429%", "bound", "meas/bnd", "genCPU", "srvCPU"):
        table.add_column(column, justify="right")
    arms = {a["name"]: a for a in doc["arms"]}
    for name, s in doc["summary"].items():
        bound = arms[name]["bound"]
        table.add_row(name, f"{s['rps_median']:.0f}", _fmt(s["p50_ms_median"]), _fmt(s["p95_ms_median"]),
                      _fmt(s["p99_ms_median"]), f"{100 * s['error_rate']:.2f}",
                      f"{100 * s['rate_limited_fraction']:.1f}",
                      _fmt(bound["rps"] if bound else None, ".0f"), _fmt(s["measured_over_bound"], ".2f"),
                      f"{s['generator_cpu_percent_max']:.0f}", f"{s['server_cpu_percent_median']:.0f}")
    return table
