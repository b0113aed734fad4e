"""``harness compare --base REF [--head REF]``: did this change make the service slower?

Base and head are two revisions of the target's repository, measured in one run with their rounds
interleaved (base head head base ...), so the drift of a shared CI machine hits both alike and the
verdict rests on head/base ratios with confidence intervals (``harness.compare_report``).

Each side is a tree (the working tree, or a commit in a temporary ``git worktree``), an interpreter
(``harness.sideenv``: the current one when the dependency files agree) and a target loaded from that
tree's own ``[tool.harness]``: its app is imported from its own tree, its own migrate command runs.
The load, the experiment and the locustfile are the working tree's, the same for both sides.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness import exitcodes, gitrev
from harness.exitcodes import HarnessError
from harness.interrupts import terminating_as_interrupt
from harness.progress import Reporter, add_verbosity
from harness.target import Target, add_target_arguments, cwd_path, load_target, parse_fraction, target_from_args
from reports import plans

Progress = Callable[[str], None]
BASE, HEAD = "base", "head"
# A comparison's own plans are ``reports.plans.COMPARE_PLANS`` (many short rounds; calibrated by
# tests/reports/test_calibration.py, whose figures docs/compare.md quotes).

_DESCRIPTION = """Measure two revisions of this service in one run, rounds interleaved, and judge
head/base ratios of rps and p50/p95/p99 against an allowed regression:
  pass          the whole CI within the allowed regression          exit 0
  fail          the whole CI beyond it                              exit 1
  inconclusive  the CI straddles it                                 exit 0 (1 with --strict-inconclusive)
The base is checked out in a temporary git worktree (always removed). Each side reuses this
environment when its dependency files are the same, else gets its own venv (uv, else pip).
The report (index.html, summary.md for $GITHUB_STEP_SUMMARY, results.json, compare.json) also
carries the contract diff base -> head (listed, not gated: `harness contract diff` gates it)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("compare", help="base vs head of this service, interleaved: the pull-request gate",
                              description=_DESCRIPTION, epilog=exitcodes.EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, metavar="REF", help="git revision to compare against (origin/main)")
    p.add_argument("--head", metavar="REF", help="git revision to measure (default: the working tree as it is)")
    p.add_argument("--experiment", metavar="NAME", help="a configured experiment (default: [tool.harness.compare] "
                   "experiment, else the only one configured)")
    p.add_argument("--arm", metavar="NAME", help="which arm of the experiment both sides run (default: "
                   "[tool.harness.compare] arm, else the first)")
    p.add_argument("-f", "--locustfile", type=Path, help="your locustfile instead of a configured experiment")
    quick, default = plans.COMPARE_QUICK, plans.COMPARE_DEFAULT
    p.add_argument("--quick", action="store_true", help=f"{quick.rounds} rounds/side x "
                   f"{quick.round_seconds:g} s, {quick.warmup:g} s warm-up (default "
                   f"{default.rounds} x {default.round_seconds:g} s, {default.warmup:g} s)")
    p.add_argument("--max-regression", metavar="PCT", help="allowed regression, e.g. 10%% or 0.1 (default: "
                   "[tool.harness.compare] max_regression, else 10%%)")
    p.add_argument("--strict-inconclusive", action="store_true", help="exit 1 on an inconclusive verdict")
    p.add_argument("--users", type=int, help="concurrent Locust users (default: the experiment's)")
    p.add_argument("--rounds", type=int, help="measured rounds per side")
    p.add_argument("--round-seconds", type=float, help="measured seconds per round")
    p.add_argument("--warmup", type=float, help="warm-up seconds per side (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed for order and data")
    p.add_argument("--no-contract", action="store_true", help="skip the contract diff base -> head")
    p.add_argument("--allowlist", metavar="FILE", help="accepted breaking changes for the contract diff")
    p.add_argument("-o", "--output", type=Path, help="report directory (default reports/compare/<run-id>/)")
    add_verbosity(p, verbose_help="on a terminal, also print the live rps line every second")
    add_target_arguments(p)
    p.set_defaults(handler=_cli)


def _cli(args: argparse.Namespace) -> int:
    for flag in ("users", "rounds"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise HarnessError(f"--{flag.replace('_', '-')} must be >= 1")
    if args.round_seconds is not None and args.round_seconds <= 0:
        raise HarnessError("--round-seconds must be > 0")
    if args.warmup is not None and args.warmup < 0:
        raise HarnessError("--warmup must be >= 0")
    target = target_from_args(args)
    try:
        max_regression = (parse_fraction(args.max_regression) if args.max_regression is not None
                          else target.compare.max_regression)
    except ValueError as exc:
        raise HarnessError(f"--max-regression: {exc}") from None
    reporter = Reporter("harness compare", verbose=args.verbose, quiet=args.quiet, timestamps=False)
    with reporter:
        return run_compare(target, args, max_regression, progress=reporter, result=reporter.echo)


def choose_experiment(target: Target, name: str | None, arm: str | None, locustfile: Path | None) -> Any:
    """The experiment both sides run, reduced to two arms ``base`` and ``head`` with one arm's settings."""
    from load.cli import check_locustfile
    from load.experiment import Arm, adhoc, get_experiment

    if locustfile is not None:
        if name:
            raise HarnessError("give either --experiment NAME or -f LOCUSTFILE, not both")
        exp = adhoc(check_locustfile(cwd_path(locustfile)), ["side"])
    else:
        name = name or target.compare.experiment
        if name is None:
            if len(target.experiments) != 1:
                known = ", ".join(target.experiments) or "none configured"
                raise HarnessError("which load? give --experiment NAME or -f LOCUSTFILE, or set [tool.harness.compare] "
                                   f"experiment (experiments: {known})")
            name = next(iter(target.experiments))
        exp = get_experiment(target, name)
        for path in {a.locustfile for a in exp.arms}:
            check_locustfile(path)
    wanted = arm or (target.compare.arm if locustfile is None and name == target.compare.experiment else None)
    chosen = next((a for a in exp.arms if a.name == wanted), None) if wanted else exp.arms[0]
    if chosen is None:
        raise HarnessError(f"experiment {exp.name} has no arm {wanted!r} (arms: {', '.join(a.name for a in exp.arms)})")
    if chosen.url is not None:
        raise HarnessError(f"arm {chosen.name} is a URL arm; harness compare starts both sides itself")
    sides: tuple[Arm, ...] = tuple(dataclasses.replace(chosen, name=side, description=f"{side}: {chosen.description}")
                                   for side in (BASE, HEAD))
    return dataclasses.replace(exp, arms=sides, aa_arm=None,
                               description=f"{exp.description} (arm {chosen.name}): base vs head"), chosen.name


def _remap(value: Path, old: Path, new: Path) -> Path:
    try:
        return new / value.relative_to(old)
    except ValueError:
        return value  # outside the repository: the same for both sides


def side_target(target: Target, repo: Path, tree: Path, python: str, overrides: dict[str, Any]) -> Target:
    """The target as ``tree`` (a checkout of the repository) declares it, run with ``python``."""
    if tree == repo:
        return target.model_copy(update={"python": python})
    root = _remap(target.root, repo, tree)
    given = {"app": overrides.get("app"), "python": python,
             "app_dir": str(_remap(Path(overrides["app_dir"]).resolve(), repo, tree)) if overrides.get("app_dir")
             else None}
    if target.config_file is not None and (root / target.config_file.name).is_file():
        side = load_target(root, given)
        if side.config_file is not None and side.config_file.parent == root:
            return side
    # This revision has no [tool.harness] of its own: the working tree's, with its paths in this tree.
    update: dict[str, Any] = {"root": root, "app_dir": _remap(target.app_dir, repo, tree), "python": python}
    if given["app_dir"]:
        update["app_dir"] = Path(given["app_dir"])
    return target.model_copy(update=update)


def _prefixed(progress: Progress, side: str) -> Progress:
    return lambda line: progress(f"[{side}] {line}")


def _label(repo: Path, sha: str, working_tree: bool, dirty: list[str]) -> str:
    text = gitrev.describe(repo, sha)
    text = text if len(text) <= 60 else text[:59] + "…"
    if working_tree:
        text = f"working tree at {text}" + (f" + {len(dirty)} uncommitted change(s)" if dirty else "")
    return text


def run_compare(target: Target, args: argparse.Namespace, max_regression: float, *, progress: Progress,
                result: Progress | None = None) -> int:
    """``result`` takes the verdict lines (default ``progress``): printed even with --quiet."""
    from harness import sideenv
    from harness.compare_report import judge, write_report
    from load.runner import RunOptions, new_run_id

    started = time.monotonic()
    repo = gitrev.repo_root(target.root)
    base_sha = gitrev.resolve(repo, args.base)
    head_ref_sha = gitrev.resolve(repo, args.head) if args.head else None
    current_sha = gitrev.resolve(repo, "HEAD")
    dirty = gitrev.dirty_paths(repo)
    if args.head and dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise HarnessError(f"--head {args.head} given while the working tree has uncommitted changes ({shown}); "
                           "the experiment and locustfile are read from the working tree, so commit or stash them, "
                           "or leave out --head to measure the working tree as it is")
    exp, arm_name = choose_experiment(target, args.experiment, args.arm, args.locustfile)
    run_id = new_run_id()
    out = cwd_path(args.output) if args.output else target.root / "reports" / "compare" / run_id
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    overrides = {"app": getattr(args, "app", None), "app_dir": getattr(args, "app_dir", None)}
    head_in_tree = head_ref_sha is None or head_ref_sha == current_sha
    head_sha = head_ref_sha or current_sha
    info: dict[str, Any] = {"run_id": run_id, "experiment": exp.name, "arm": arm_name,
                            "max_regression": max_regression, "repository": str(repo)}
    progress(f"compare: base {args.base} = {base_sha[:12]}, head "
             f"{'the working tree' if head_ref_sha is None else args.head} = {head_sha[:12]}; experiment "
             f"{exp.name} (arm {arm_name}); report in {out}")
    with terminating_as_interrupt(), contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harness-compare-")))
        trees = {BASE: stack.enter_context(gitrev.temporary_worktree(repo, base_sha, label=BASE, parent=scratch))}
        trees[HEAD] = (gitrev.Checkout(repo, head_sha, temporary=False) if head_in_tree else
                       stack.enter_context(gitrev.temporary_worktree(repo, head_sha, label=HEAD, parent=scratch)))
        targets: dict[str, Target] = {}
        for side, tree in trees.items():
            project = _remap(target.root, repo, tree.path)
            env = (sideenv.SideEnv(target.python, True, f"the current environment ({target.python})")
                   if not tree.temporary else
                   sideenv.side_env(project, target.root, target.python, venv=scratch / f"venv-{side}",
                                    server=target.serve.kind, log=out / "logs" / f"env-{side}.log",
                                    progress=_prefixed(progress, side)))
            try:
                targets[side] = side_target(target, repo, tree.path, env.python, overrides)
            except HarnessError as exc:
                raise HarnessError(f"{side} ({tree.sha[:12]}): {exc}", exc.exit_code) from exc
            info[side] = {"ref": args.base if side == BASE else (args.head or "working tree"), "sha": tree.sha,
                          "label": _label(repo, tree.sha, not tree.temporary, dirty), "env": env.how,
                          "tree": "working tree" if not tree.temporary else "temporary git worktree"}
            progress(f"[{side}] {info[side]['label']}: {env.how}")
        contract = None if args.no_contract else _contract_diff(targets, args.allowlist, progress)
        plan = plans.compare_plan_for(args.quick)
        opts = RunOptions(quick=args.quick, users=args.users, rounds=args.rounds or plan.rounds,
                          round_seconds=args.round_seconds or plan.round_seconds,
                          warmup=plan.warmup if args.warmup is None else args.warmup, seed=args.seed,
                          output=out / "load")
        doc = measure(exp, targets, opts, progress)
        verdicts = judge(doc, max_regression)
        info.update(rounds=doc["config"]["rounds_per_arm"], round_seconds=doc["config"]["round_seconds"],
                    users=doc["config"]["users"], quick=args.quick, elapsed_s=round(time.monotonic() - started, 1))
        outcome, code = write_report(out, Path(doc["_path"]), verdicts, contract, info,
                                     strict_inconclusive=args.strict_inconclusive)
    result = result or progress
    for v in verdicts:
        result(f"  {v.metric:<4} {v.outcome.upper():<13} {v.detail}")
    result(f"compare: {outcome.upper()} in {time.monotonic() - started:.0f} s -> exit {code}; "
             f"summary {out / 'summary.md'}, report {out / 'index.html'}")
    return code


def _contract_diff(targets: dict[str, Target], allowlist: str | None, progress: Progress) -> Any:
    from contracts.allowlist import apply_allowlist, load_allowlist
    from contracts.diff import diff_documents
    from contracts.live import live_schema

    progress("exporting both sides' OpenAPI documents for the contract diff ...")
    docs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {side: pool.submit(live_schema, t) for side, t in targets.items()}
        for side, future in futures.items():
            try:
                docs[side] = future.result()
            except HarnessError as exc:
                raise HarnessError(f"{side}: {exc}", exc.exit_code) from exc
    report = diff_documents(docs[BASE], docs[HEAD])
    if allowlist:
        report = apply_allowlist(report, load_allowlist(cwd_path(allowlist)))
    s = report.summary()
    progress(f"contract diff base -> head: {s['breaking']} breaking, {s['non_breaking']} non-breaking")
    return report


def measure(exp: Any, targets: dict[str, Target], opts: Any, progress: Progress) -> dict[str, Any]:
    from harness.compare_run import CompareRun

    with CompareRun(exp, targets, opts, progress=progress) as run:
        run.start()
        doc: dict[str, Any] = run.measure()
    return doc
