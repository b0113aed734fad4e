"""``harness load run PROFILE [...]`` and ``harness load list``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness import exitcodes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = subparsers.add_parser("load", help="Locust experiments comparing variants side by side",
                                 description="Interleaved A/B load experiments with exact CIs (docs/reports.md).",
                                 epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = load.add_subparsers(dest="load_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run an experiment and write results.json",
                         epilog=exitcodes.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("profile", help="experiment name (see `harness load list`)")
    run.add_argument("--quick", action="store_true",
                     help="4 rounds/arm x 4 s, 2 s warm-up (CI smoke; default 6 x 12 s, 5 s warm-up)")
    run.add_argument("--aa", action="store_true", help="A/A: the same arm twice; must show no difference")
    run.add_argument("--users", type=int, help="concurrent Locust users (default: per experiment)")
    run.add_argument("--round-seconds", type=float, help="measured seconds per round")
    run.add_argument("--rounds", type=int, help="measured rounds per arm")
    run.add_argument("--warmup", type=float, help="discarded warm-up seconds per arm (0: none)")
    run.add_argument("--processes", type=int, default=None,
                     help="Locust processes: >1 runs a local master plus that many workers "
                          "(default: the experiment's own, 2 for middleware and server)")
    run.add_argument("--seed", type=int, default=0, help="seed for round order and data")
    run.add_argument("--order", choices=("abba", "random"), default="abba", help="round interleaving")
    run.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    run.add_argument("--database-url", help="REFAPP_DATABASE_URL for the servers (postgres backend)")
    run.add_argument("--redis-url", help="REFAPP_REDIS_URL for the servers (cache + limiter)")
    run.add_argument("--server", choices=("uvicorn", "gunicorn"), default="uvicorn",
                     help="server for arms that don't pin one")
    run.add_argument("--workers", type=int, default=2, help="gunicorn workers for arms that don't pin them")
    run.add_argument("-o", "--output", type=Path, help="output directory (default reports/runs/<run-id>/<profile>/)")
    run.set_defaults(handler=_run)

    lst = sub.add_parser("list", help="list experiments and profiles")
    lst.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    from load.experiment import EXPERIMENTS, profile_names

    print("experiments (harness load run NAME):")
    for exp in EXPERIMENTS.values():
        arms = " vs ".join(a.name for a in exp.arms)
        print(f"  {exp.name:<11} {arms:<28} {exp.description}")
    print("profiles (load/profiles/*.py, usable with plain `locust -f`):")
    print("  " + ", ".join(profile_names()))
    return exitcodes.OK


def _run(args: argparse.Namespace) -> int:
    from load.experiment import EXPERIMENTS
    from load.runner import RunOptions, run_experiment

    if args.profile not in EXPERIMENTS:
        raise exitcodes.HarnessError(f"unknown profile {args.profile!r}; choose from {', '.join(EXPERIMENTS)}")
    for flag in ("users", "rounds", "processes", "workers"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise exitcodes.HarnessError(f"--{flag} must be >= 1")
    if args.round_seconds is not None and args.round_seconds <= 0:
        raise exitcodes.HarnessError("--round-seconds must be > 0")
    if args.warmup is not None and args.warmup < 0:
        raise exitcodes.HarnessError("--warmup must be >= 0")
    opts = RunOptions(quick=args.quick, aa=args.aa, users=args.users, round_seconds=args.round_seconds,
                      rounds=args.rounds, warmup=args.warmup, processes=args.processes, seed=args.seed,
                      backend=args.backend, database_url=args.database_url, redis_url=args.redis_url,
                      server=args.server, workers=args.workers, output=args.output, order=args.order)
    doc = run_experiment(args.profile, opts, progress=lambda line: print(line, flush=True))
    print_report(doc)
    return exitcodes.OK if doc["validity"]["valid"] else exitcodes.INVALID_RUN


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
