"""``harness report``, ``harness gate``, ``harness baseline save`` and ``harness bench compare``.

Exit codes (``harness.exitcodes``): 0 every gate passed (inconclusive counts as passing unless
``--strict-inconclusive``), 1 a gate failed, 2 bad input (schema, gates.toml, or ``harness gate`` with
no gate that applies to the results), 3 invalid run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness import exitcodes

# Heavy imports (numpy, matplotlib, jsonschema-rs, pytest-benchmark) happen inside the handlers so that
# `harness --help` and the other parts' sub-commands work without the reporting extras installed.
DEFAULT_BASELINE = Path("reports/baseline.json")
BENCH_DESCRIPTION = """Exit 1 when a pytest-benchmark benchmark regressed beyond --threshold against a saved run.

CURRENT defaults to the newest run in --benchmark-storage, BASELINE to the run before it; either may be a
run number (0003) or a JSON file. Thresholds use pytest-benchmark's --benchmark-compare-fail syntax."""


def _results_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS",
        help="results.json files from `harness load` (one per profile)",
    )


def _gate_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--gates", type=Path, required=required, help="gates.toml (see docs/reports.md)")
    p.add_argument("--baseline", type=Path, help="baseline file for baseline gates (harness baseline save)")
    p.add_argument("--strict-inconclusive", action="store_true", help="treat an inconclusive gate as failed (exit 1)")


def cmd_gate(args: argparse.Namespace) -> int:
    from reports import baseline as baseline_file
    from reports import junit
    from reports.gates import evaluate
    from reports.gatespec import load_gates
    from reports.results import load_runset

    runset = load_runset(args.results)
    base = baseline_file.load(args.baseline) if args.baseline else None
    evaluation = evaluate(load_gates(args.gates), runset, base, strict_inconclusive=args.strict_inconclusive)
    for g in evaluation.gates:
        print(f"{g.outcome.upper():<13} {g.spec.name}\n{'':14}{g.detail}")
    for reason in evaluation.invalid_reasons:
        print(f"INVALID RUN   {reason}")
    if args.junit:
        junit.write(args.junit, evaluation, runset)
    counts = ", ".join(f"{n} {k}" for k, n in evaluation.counts().items())
    if not evaluation.invalid_reasons and all(g.outcome == "skipped" for g in evaluation.gates):
        # Nothing was checked: exit 0 would read as "the gates passed" in CI.
        named = sorted({g.spec.profile for g in evaluation.gates if g.spec.profile})
        print(f"\nharness gate: no gate applied to these results ({counts}); the gates name profile(s) "
              f"{', '.join(named) or '(none)'}, the results hold {', '.join(runset.profiles)} "
              "(a `load run -f` run is named after its locustfile) -> exit 2", file=sys.stderr)
        return exitcodes.USAGE
    print(f"\noutcome: {evaluation.outcome} ({counts}) -> exit {evaluation.exit_code}")
    return evaluation.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from reports import render

    data = render.gather(
        args.results,
        gates=args.gates,
        baseline=args.baseline,
        strict_inconclusive=args.strict_inconclusive,
        bench=args.bench,
        schemathesis_junit=args.schemathesis_junit,
        contract_diff=args.contract_diff,
    )
    out = args.output or render.default_out_dir(data.runset)
    paths = render.write(data, out)
    for path in paths.values():
        print(path)
    print(f"outcome: {data.outcome} -> exit {data.exit_code}")
    if args.github_summary:
        summary = Path(args.github_summary)
        with summary.open("a", encoding="utf-8") as fh:
            fh.write(paths["summary.md"].read_text(encoding="utf-8"))
    return data.exit_code


def cmd_baseline_save(args: argparse.Namespace) -> int:
    from reports import baseline as baseline_file
    from reports.results import load_runset

    runset = load_runset(args.results)
    saved = baseline_file.save(runset, args.output, merge=not args.replace, keep=args.keep)
    kept = len(baseline_file.load_history(args.output))
    print(f"saved baseline {args.output} (profiles: {', '.join(saved.profiles)}; history: {kept} run(s))")
    return exitcodes.OK


def cmd_history(args: argparse.Namespace) -> int:
    import json

    from reports import baseline as baseline_file
    from reports import history

    if not args.baseline.is_file():
        raise exitcodes.HarnessError(f"no such baseline file {args.baseline} (harness baseline save ...)",
                                     exitcodes.USAGE)
    runs = baseline_file.load_history(args.baseline)
    found = history.analyse(runs)
    if args.metric:
        found = [s for s in found if s.metric in args.metric]
    if args.json:
        print(json.dumps([{"profile": s.profile, "arm": s.arm, "metric": s.metric, "margin": s.margin,
                           "run_ids": list(s.run_ids), "values": list(s.values),
                           "change_points": [c.as_dict() for c in s.change_points]} for s in found], indent=2))
        return exitcodes.OK
    print(f"{args.baseline}: {len(runs)} stored run(s); change points by Apache Otava (p <= {history.MAX_PVALUE:g}, "
          "at least the plan's margin)")
    if len(runs) < history.MIN_RUNS:
        print(f"  fewer than {history.MIN_RUNS} runs: nothing to detect yet")
    for s in found:
        points = "; ".join(f"at run {c.run_id} (#{c.index + 1}): {c.before:.4g} -> {c.after:.4g} ({c.change:+.1%})"
                           for c in s.change_points) or "none"
        print(f"  {s.label:<32} {len(s.values):>3} runs, last {s.values[-1]:.4g}; change points: {points}")
    return exitcodes.OK


def cmd_baseline_show(args: argparse.Namespace) -> int:
    from reports import baseline as baseline_file
    from reports.metrics import METRICS, arm_value, format_value

    saved = baseline_file.load(args.baseline)
    for doc in saved.docs:
        print(f"{doc['profile']}: run {doc['run_id']} at {doc['created_at']}")
        for arm in doc["arms"]:
            rps = arm_value(doc, arm["name"], METRICS["rps"])
            p95 = arm_value(doc, arm["name"], METRICS["p95"])
            print(f"  {arm['name']}: {format_value(rps, 'rps')}, p95 {format_value(p95, 'ms')}")
    return exitcodes.OK


def cmd_bench_compare(args: argparse.Namespace) -> int:
    from reports import bench

    return bench.run_compare(args.benchmark_storage, args.current, args.baseline, args.threshold or ["10%"])


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return exitcodes.USAGE

    return handler


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter

    p = subparsers.add_parser(
        "gate",
        help="evaluate gates.toml against results (exit 0/1/3)",
        description=__doc__,
        formatter_class=fmt,
        epilog=exitcodes.EPILOG,
    )
    _results_arg(p)
    _gate_args(p, required=True)
    p.add_argument("--junit", type=Path, help="also write the gate outcomes as JUnit XML")
    p.set_defaults(handler=cmd_gate)

    p = subparsers.add_parser(
        "report",
        help="render index.html, summary.md, gates.junit.xml, results.json",
        description=__doc__,
        formatter_class=fmt,
        epilog=exitcodes.EPILOG,
    )
    _results_arg(p)
    p.add_argument("-o", "--output", type=Path, help="output directory (default reports/runs/<run-id>/)")
    _gate_args(p, required=False)
    p.add_argument("--bench", type=Path, help="pytest-benchmark JSON (--benchmark-json) to include")
    p.add_argument("--schemathesis-junit", type=Path, help="schemathesis JUnit XML to include")
    p.add_argument("--contract-diff", type=Path, help="contract diff JSON to include")
    p.add_argument("--github-summary", metavar="FILE", help='append summary.md to FILE (pass "$GITHUB_STEP_SUMMARY")')
    p.set_defaults(handler=cmd_report)

    p = subparsers.add_parser("baseline", help="save or show the baseline that baseline gates compare with")
    sub = p.add_subparsers(dest="baseline_command", metavar="ACTION")
    p.set_defaults(handler=_usage(p))
    s = sub.add_parser("save", help="save valid results as the baseline (other profiles are kept)")
    _results_arg(s)
    s.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_BASELINE,
        help=f"baseline file (default {DEFAULT_BASELINE})",
    )
    s.add_argument("--replace", action="store_true", help="drop profiles not in RESULTS instead of keeping them")
    s.add_argument("--keep", type=int, default=20, help="runs kept in the history (default 20)")
    s.set_defaults(handler=cmd_baseline_save)
    s = sub.add_parser("show", help="print what a baseline file holds")
    s.add_argument("baseline", type=Path, nargs="?", default=DEFAULT_BASELINE)
    s.set_defaults(handler=cmd_baseline_show)

    p = subparsers.add_parser(
        "history",
        help="change points over the runs stored by `harness baseline save` (Apache Otava)",
        description="Per profile, arm and metric (rps, p95, p99): the stored runs' medians and the change "
        "points Apache Otava's E-divisive detector finds among them (only shifts of at least the plan's margin).",
        epilog=exitcodes.EPILOG,
        formatter_class=fmt,
    )
    p.add_argument("baseline", type=Path, nargs="?", default=DEFAULT_BASELINE)
    p.add_argument("--metric", action="append", choices=("rps", "p95", "p99"), help="only this metric (repeatable)")
    p.add_argument("--json", action="store_true", help="print the series and change points as JSON")
    p.set_defaults(handler=cmd_history)

    p = subparsers.add_parser("bench", help="pytest-benchmark helpers")
    sub = p.add_subparsers(dest="bench_command", metavar="ACTION")
    p.set_defaults(handler=_usage(p))
    s = sub.add_parser(
        "compare",
        help="exit 1 when a benchmark regressed vs a saved run",
        description=BENCH_DESCRIPTION,
        formatter_class=fmt,
    )
    s.add_argument("current", nargs="?", help="run id (e.g. 0003) or JSON file; default: newest saved run")
    s.add_argument("baseline", nargs="?", help="run id or JSON file; default: the saved run before CURRENT")
    s.add_argument("--benchmark-storage", default=".benchmarks", help="pytest-benchmark storage (default .benchmarks)")
    s.add_argument(
        "--threshold",
        action="append",
        metavar="SPEC",
        help="'10%%' (mean) or FIELD:N%% / FIELD:SECONDS, repeatable (default 10%%)",
    )
    s.set_defaults(handler=cmd_bench_compare)
