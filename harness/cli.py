"""``harness``: one console script, one sub-command per harness part.

Each part owns its sub-commands in ``<part>/cli.py`` and exposes ``register(subparsers)``;
this module only assembles them, so parts can be added without touching each other.
Exit codes are shared by every sub-command (see ``harness.exitcodes``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from harness import exitcodes

# Imported lazily by name so that `harness serve --help` does not pay for locust/numpy imports,
# and a part whose optional extra isn't installed fails with a clear message only when used.
_PARTS: tuple[str, ...] = (
    "harness.serve",
    "harness.containers.cli",
    "contracts.cli",
    "load.cli",
    "reports.cli",
    "harness.mainjob",
    "harness.compare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Test-and-benchmark harness for FastAPI services.",
        epilog=exitcodes.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == name.split(".")[0]:
                continue  # that part is not written yet
            raise
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = module.register
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except exitcodes.HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
