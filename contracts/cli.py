"""``harness contract``: export the live OpenAPI document, check it against the committed one,
and diff two documents with breaking-change classification.

The app is the target's (``[tool.harness]`` or ``--app MODULE:ATTR``); relative paths given on the
command line are resolved from the cwd.

Exit codes (``harness.exitcodes``): 0 fine; 1 drift (``check``) or an unaccepted breaking change
(``diff``); 2 unreadable or invalid input, an app that can't be imported, or ``check --update`` against
a contract that shares no operation with the app (another service's file?) without ``--force``.

Extension point: optional modules listed in ``_EXTENSIONS`` add their own ``harness contract``
sub-commands by exposing ``register(contract_subparsers)``. ``contracts.fuzz`` (schemathesis, the
``harness contract fuzz`` command, tested under ``tests/contract/``) is expected there; until that
module exists it is simply skipped.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from contracts import live, loader, render
from contracts.allowlist import apply_allowlist, load_config
from contracts.diff import diff_documents
from contracts.policies import Policy
from contracts.rules import LEVELS
from harness import exitcodes
from harness.exitcodes import HarnessError
from harness.target import Target, add_target_arguments, cwd_path, target_from_args

_DESCRIPTION = """Keep the OpenAPI contract honest.

  export  write the live schema of the app (--app or [tool.harness] app), deterministically
  check   compare the live schema with the committed contract (exit 1 on drift)
  diff    classify every change from OLD to NEW as breaking, warning or info (exit 1 on an unaccepted break)

See docs/contracts.md for the CI workflow, the allowlist format and the rule ids."""

DEFAULT_CONTRACT = "contracts/openapi.json"
MAX_DIFF_LINES = 400  # a unified diff longer than this is cut: the classified changes say the rest
_EXTENSIONS: tuple[str, ...] = ("contracts.fuzz",)

_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "contract",
        help="OpenAPI contract: export, check for drift, diff with breaking-change rules",
        description=_DESCRIPTION,
        epilog=exitcodes.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="contract_command", metavar="SUBCOMMAND", required=True)
    _add_export(sub)
    _add_check(sub)
    _add_diff(sub)
    for name in _EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not written yet
            raise
        extend: Callable[[_Subparsers], None] = module.register
        extend(sub)


def _add_export(sub: _Subparsers) -> None:
    parser = sub.add_parser("export", help="write the live OpenAPI document (sorted keys, indent 2)")
    parser.add_argument(
        "-o", "--output", help=f"file, or - for stdout (default: the configured contract, else {DEFAULT_CONTRACT})"
    )
    add_target_arguments(parser)
    parser.set_defaults(handler=cmd_export)


def _add_check(sub: _Subparsers) -> None:
    parser = sub.add_parser("check", help="fail (exit 1) if the live OpenAPI document differs from the committed one")
    parser.add_argument("--contract", help=f"committed contract (default: the configured one, else {DEFAULT_CONTRACT})")
    parser.add_argument("--update", action="store_true", help="rewrite the committed contract instead of failing")
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --update: overwrite even a contract that shares no operation with the app",
    )
    add_target_arguments(parser)
    parser.set_defaults(handler=cmd_check)


def _add_diff(sub: _Subparsers) -> None:
    parser = sub.add_parser(
        "diff",
        help="classify the changes from OLD to NEW; exit 1 on an unaccepted breaking change",
        description="OLD and NEW are file paths or http(s) URLs of OpenAPI 3.x documents, JSON or YAML.",
    )
    parser.add_argument("old", metavar="OLD")
    parser.add_argument("new", metavar="NEW")
    parser.add_argument("--format", choices=render.FORMATS, default="text", help="report format (text)")
    parser.add_argument(
        "--allowlist", metavar="FILE", help="accepted changes and rule severities (TOML or YAML, see docs/contracts.md)"
    )
    parser.add_argument(
        "--fail-on",
        choices=LEVELS[:2],
        default="breaking",
        help="exit 1 on unaccepted changes of this severity or worse (breaking)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    parser.set_defaults(handler=cmd_diff)


def contract_path(target: Target, given: str | None) -> Path:
    """``--contract``/``-o`` from the cwd; else the configured contract; else contracts/openapi.json in the cwd."""
    if given is not None:
        return cwd_path(given)
    return target.contract or cwd_path(DEFAULT_CONTRACT)


def operations(document: object) -> set[tuple[str, str]]:
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return set()
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return {(m.upper(), p) for p, item in paths.items() if isinstance(item, dict) for m in item if m in methods}


def cmd_export(args: argparse.Namespace) -> int:
    target = target_from_args(args)
    text = live.serialize(live.live_schema(target))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = contract_path(target, args.output)
        _write(path, text)
        print(f"wrote {path} ({len(text.splitlines())} lines)")
    return exitcodes.OK


def cmd_check(args: argparse.Namespace) -> int:
    target = target_from_args(args)
    contract = contract_path(target, args.contract)
    current = live.live_schema(target)
    current_text = live.serialize(current)
    if not contract.exists():
        if args.update:
            _write(contract, current_text)
            print(f"created {contract}")
            return exitcodes.OK
        raise HarnessError(f"{contract}: no such file; create it with `harness contract export -o {contract}`")
    committed = loader.load_document(contract)
    committed_text = contract.read_text(encoding="utf-8")
    if committed_text == current_text:
        print(f"{contract}: up to date with the live schema")
        return exitcodes.OK
    report = diff_documents(committed, current)
    if args.update and not args.force:
        ours, theirs = operations(current), operations(committed)
        if theirs and not ours & theirs:
            raise HarnessError(
                f"refusing to update {contract}: it shares no operation with the live app {target.app} "
                f"({len(theirs)} operations in the file, {len(ours)} in the app); is it another service's "
                "contract? Check --app/--contract, or pass --force to overwrite it"
            )
    if args.update:
        _write(contract, current_text)
        print(f"updated {contract}: {render.render_text(report, 'changes written')}", end="")
        return exitcodes.OK
    print(f"{contract} is out of date with the live OpenAPI schema.\n")
    print(_unified(committed_text, current_text, str(contract)), end="")
    print()
    if committed == current:
        print("Only the formatting differs (the file was not written by `harness contract export`).")
    else:
        print(render.render_text(report, "Classified changes (committed -> live)"), end="")
    print(f"\nIf the change is intended: `harness contract check --update --contract {contract}` and commit it.")
    return exitcodes.GATE_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    old = loader.load_document(args.old)
    new = loader.load_document(args.new)
    config = load_config(args.allowlist) if args.allowlist else None
    report = diff_documents(old, new, Policy(severities=config.severities if config else {}))
    if config:
        report = apply_allowlist(report, config.entries)
    report.fail_on = args.fail_on
    text = render.render(report, args.format, title=f"OpenAPI changes {args.old} -> {args.new}")
    if args.output:
        _write(Path(args.output), text)
        print(f"wrote {args.output}: {render.headline(report)}")
    else:
        sys.stdout.write(text)
    return exitcodes.GATE_FAILED if report.failed else exitcodes.OK


def _unified(old: str, new: str, name: str) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"{name} (committed)",
            f"{name} (live)",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"{path}: cannot write: {exc}") from exc
