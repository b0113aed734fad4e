"""``harness``: one console script, one sub-command per harness part.

Each part owns its sub-commands in ``<part>/cli.py`` and exposes ``register(subparsers)``;
this module only assembles them, so parts can be added without touching each other.
Exit codes are shared by every sub-command (see ``harness.exitcodes``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from harness import exitcodes
from harness.interrupts import terminating_as_interrupt

# Imported lazily by name so that `harness serve --help` does not pay for locust/numpy imports,
# and a part whose optional extra isn't installed fails with a clear message only when used.
_PARTS: tuple[str, ...] = (
    "harness.serve",
    "harness.containers.cli",
    "contracts.cli",
    "load.cli",
    "reports.cli",
    "harness.mainjob",
    "harness.init",
    "harness.compare",
)


def require(module: str) -> None:
    """Raise ``ModuleNotFoundError`` now for a dependency a subprocess would otherwise miss later."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


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
            if extra_providing(exc.name or "") is None:
                raise
            continue  # a part whose optional extra isn't installed: its commands are absent
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = module.register
        register(sub)
    return parser


DISTRIBUTION = "fastapi-harness"
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def extra_providing(module: str) -> str | None:
    """The optional extra of this package that installs ``module`` (a top-level import name), if any.

    Read from the installed metadata, so it follows pyproject.toml; an import name is compared with
    the distribution name normalised the usual way (``jsonschema-rs`` -> ``jsonschema_rs``).
    """
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    wanted = module.split(".")[0].lower()
    for requirement in requirements:
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("-", "_").replace(".", "_")
        extra = _EXTRA_MARKER.search(requirement)
        if name == wanted and extra is not None:
            return extra.group(1)
    return None


def missing_module_message(exc: ModuleNotFoundError, command: str) -> str:
    """One line for a command that needs a package which isn't installed: which one, and what to install."""
    module = exc.name or "?"
    extra = extra_providing(module)
    if extra is not None:
        return (f"harness {command}: needs the optional extra '{extra}' ({module} is not installed); "
                f"install it with: pip install '{DISTRIBUTION}[{extra}]'")
    return f"harness {command}: the Python package {module!r} is not installed ({exc})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with terminating_as_interrupt():
            return handler(args)
    except ModuleNotFoundError as exc:  # an optional extra is missing: one line, not a traceback
        print(missing_module_message(exc, args.command), file=sys.stderr)
        return exitcodes.USAGE
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except exitcodes.HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
