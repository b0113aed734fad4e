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

#: Optional dependencies, by top-level module, and the extra that installs them.
EXTRAS: dict[str, str] = {
    "locust": "load", "gevent": "load", "numpy": "load", "matplotlib": "load", "jsonschema_rs": "load",
    "schemathesis": "fuzz", "gunicorn": "gunicorn", "uvicorn_worker": "gunicorn",
    "testcontainers": "test", "docker": "test", "pytest": "test", "pytest_benchmark": "test",
}


def require(module: str) -> None:
    """Raise ``ModuleNotFoundError`` now for a dependency a subprocess would otherwise miss later."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """One line naming the extra for a missing optional dependency, or None if it isn't one."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return f"this command needs {top!r}, which is not installed: pip install 'fastapi-harness[{extra}]'"

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
            if missing_extra(exc) is None:
                raise
            continue  # a part whose optional extra isn't installed: its commands are absent
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
    except ModuleNotFoundError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"harness: error: {message}", file=sys.stderr)
        return exitcodes.USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
