"""``harness init [--app MODULE:ATTR]``: set a repository up to be tested by the harness.

In the cwd (a repository with a FastAPI app) it:

1. finds the app (``--app``, else a module-level ``NAME = FastAPI(...)`` or a ``def NAME(...) -> FastAPI``
   in the repository's Python files) and checks that it imports;
2. writes the ``[tool.harness]`` table (into pyproject.toml, or harness.toml when there is none);
3. exports the contract to ``contracts/openapi.json``;
4. writes a starter locustfile (one task per parameter-free GET that needs no credentials, or a fetch
   of ``/openapi.json`` when there is none, and a commented template for the rest) and a starter
   ``gates.toml``;
5. prints the next commands. ``harness run --quick`` works right away on a simple app.

Nothing existing is overwritten: a contract, locustfile or gates file that is already there is left
alone and reported, and a config that already has a harness table is refused (exit 2: edit it instead).
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError

CONTRACT = "contracts/openapi.json"
LOCUSTFILE = "load/locustfile.py"
GATES = "gates.toml"
EXPERIMENT = "smoke"
_SKIP_DIRS = {".venv", "venv", ".git", "node_modules", "__pycache__", ".tox", "build", "dist", "site-packages",
              "tests", "test"}
_INSTANCE = re.compile(r"^(\w+)\s*(?::\s*FastAPI\s*)?=\s*FastAPI\(", re.MULTILINE)
_FACTORY = re.compile(r"^def\s+(\w+)\s*\([^)]*\)\s*->\s*(?:fastapi\.)?FastAPI\s*:", re.MULTILINE)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="set this repository up: [tool.harness], contract, starter locustfile and gates",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=exitcodes.EPILOG)
    p.add_argument("--app", metavar="MODULE:ATTR", help="the FastAPI app (default: found in the repository)")
    p.add_argument("--app-dir", metavar="DIR", help="directory the app's module is imported from (default: the cwd)")
    p.set_defaults(handler=cmd_init)


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_app(root: Path) -> str | None:
    """``module:attr`` of the first app instance (else factory) in the repository, shallowest first."""
    candidates: list[tuple[int, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "FastAPI" not in text:
            continue
        for rank, pattern in ((0, _INSTANCE), (1, _FACTORY)):
            match = pattern.search(text)
            if match:
                candidates.append((rank, len(rel.parts), f"{module_name(path, root)}:{match.group(1)}"))
    return min(candidates)[2] if candidates else None


def simple_gets(document: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(GET paths a plain client can call, every other operation as 'METHOD path')."""
    simple, other = [], []
    for path, item in sorted((document.get("paths") or {}).items()):
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or not isinstance(op, dict):
                continue
            params = [*shared, *(op.get("parameters") or [])]
            needs_input = "{" in path or any(p.get("required") for p in params if isinstance(p, dict))
            needs_auth = bool(op.get("security") or document.get("security"))
            if method == "get" and not needs_input and not needs_auth:
                simple.append(path)
            else:
                other.append(f"{method.upper()} {path}")
    return simple, other


def locustfile_text(simple: list[str], other: list[str]) -> str:
    tasks = simple or ["/openapi.json"]
    lines = [
        '"""Starter load profile written by `harness init`: one task per parameter-free GET.',
        "",
        "A plain locustfile: run it with `harness load run -f load/locustfile.py ...` or with `locust -f`.",
        "Edit freely; the harness runs it unchanged.",
        '"""',
        "",
        "from locust import FastHttpUser, constant, task",
        "",
        "",
        "class Visitor(FastHttpUser):",
        "    wait_time = constant(0)",
        "",
    ]
    for n, path in enumerate(tasks):
        name = re.sub(r"\W+", "_", path).strip("_") or "root"
        lines += ["    @task", f"    def get_{name}_{n}(self) -> None:", f'        self.client.get("{path}")', ""]
    lines += [
        "    # The other operations need input or credentials; a template to start from:",
        "    #",
        "    # def on_start(self) -> None:",
        '    #     self.headers = {"Authorization": "Bearer ..."}  # or your API key header',
        "    #",
        "    # @task",
        "    # def create_and_read(self) -> None:",
        '    #     created = self.client.post("/items", json={...}, headers=self.headers).json()',
        '    #     self.client.get(f"/items/{created[\'id\']}", name="/items/{id}", headers=self.headers)',
        "    #",
        "    # Operations of this app not covered above:",
        *[f"    #   {op}" for op in other[:60]],
    ]
    return "\n".join(lines).rstrip() + "\n"


def table_text(app: str, app_dir: str | None, *, nested: bool) -> str:
    prefix = "tool.harness" if nested else ""
    head = f"[{prefix}]\n" if nested else ""
    dot = f"{prefix}." if nested else ""
    return (
        "# fastapi-harness: the service under test (docs/target.md documents every key).\n"
        f"{head}"
        f'app = "{app}"\n'
        + (f'app_dir = "{app_dir}"\n' if app_dir else "")
        + f'contract = "{CONTRACT}"\n'
        f'gates = "{GATES}"\n'
        f'matrix = ["{EXPERIMENT}"]\n'
        "\n"
        f"[{dot}experiments.{EXPERIMENT}]\n"
        'description = "starter: every parameter-free GET (add arms to compare variants)"\n'
        f'locustfile = "{LOCUSTFILE}"\n'
        "users = 10\n"
        "\n"
        f"[[{dot}experiments.{EXPERIMENT}.arms]]\n"
        'name = "baseline"\n'
        'description = "the app as configured"\n'
    )


GATES_TEXT = f'''# Starter quality gates written by `harness init` (format: docs/reports.md).
version = 1

# No profile: it applies to the one results file it is given, the `{EXPERIMENT}` experiment of
# `harness run` or a `harness load run -f load/locustfile.py` run (named after its locustfile).
[[gate]]
name = "no errors"
kind = "absolute"
expr = "error_rate < 1%"

# More to consider once you have arms to compare (see docs/reports.md):
# [[gate]]
# kind = "relative"
# profile = "{EXPERIMENT}"
# expr = "rps[candidate] / rps[baseline] >= 0.9"
'''


def _write_new(path: Path, text: str, done: list[str]) -> bool:
    """Write ``path`` unless it exists; whether it was written."""
    if path.exists():
        done.append(f"kept    {path} (already there)")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    done.append(f"wrote   {path}")
    return True


def locustfile_summary(simple: list[str], other: list[str], *, written: bool) -> str:
    """What the starter locustfile measures, and what is left to the user (never "calls 0 GETs")."""
    if not written:
        return f"{LOCUSTFILE} was already there and is left as it is: the {EXPERIMENT} experiment runs it."
    rest = (f"; the app's {len(other)} other operation(s) need parameters or credentials and are listed in it, "
            "under a commented template" if other else "")
    if simple:
        shown = ", ".join(simple[:5]) + (", ..." if len(simple) > 5 else "")
        return f"The starter {LOCUSTFILE} calls the app's {len(simple)} GET(s) that need no input: {shown}{rest}."
    return (f"No GET of this app works without parameters or credentials, so the starter {LOCUSTFILE} only "
            f"fetches /openapi.json: a smoke test of the server, not of your API{rest}. Add tasks for the "
            "operations you want measured before you rely on its figures.")


def cmd_init(args: argparse.Namespace) -> int:
    from contracts import live
    from harness import appload
    from harness.target import load_target

    root = Path.cwd().resolve()
    pyproject = root / "pyproject.toml"
    config_file = pyproject if pyproject.is_file() else root / "harness.toml"
    if config_file.is_file():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise HarnessError(f"{config_file}: {exc}") from exc
        if data.get("tool", {}).get("harness") is not None or (config_file.name == "harness.toml" and data):
            raise HarnessError(f"{config_file} already has a harness table; edit it (docs/target.md) instead")
    app = args.app or find_app(root)
    if app is None:
        raise HarnessError("no FastAPI app found here; pass --app MODULE:ATTR")
    target = load_target(root, {"app": app, "app_dir": args.app_dir}, use_config=False)
    appload.check_importable(target)  # exit 2, with the import error in one line
    document = live.live_schema(target)
    done: list[str] = []
    app_dir = None
    if args.app_dir:
        app_dir = str(Path(args.app_dir).resolve().relative_to(root)) if Path(args.app_dir).resolve().is_relative_to(
            root) else str(Path(args.app_dir).resolve())
    nested = config_file.name == "pyproject.toml"
    with config_file.open("a", encoding="utf-8") as fh:
        existing = config_file.stat().st_size > 0
        fh.write(("\n" if existing else "") + table_text(app, app_dir, nested=nested))
    done.append(f"{'updated' if existing else 'wrote  '} {config_file} ([tool.harness], app {app})")
    _write_new(root / CONTRACT, live.serialize(document), done)
    simple, other = simple_gets(document)
    written = _write_new(root / LOCUSTFILE, locustfile_text(simple, other), done)
    _write_new(root / GATES, GATES_TEXT, done)
    print("\n".join(done))
    print(f"\n{locustfile_summary(simple, other, written=written)}\nNext:\n"
          "  harness contract check                  # the live app still matches contracts/openapi.json\n"
          "  harness contract fuzz                   # schemathesis: every check and phase (exit 1 on a failure)\n"
          "  harness load run -f load/locustfile.py --app " + app + " --arm a --arm b:KEY=VALUE\n"
          "  harness run --quick                     # the configured matrix, gated by gates.toml\n"
          "Commit the table, contracts/openapi.json, load/locustfile.py and gates.toml; in CI run\n"
          "`harness contract check && harness contract fuzz && harness run`.")
    return exitcodes.OK
