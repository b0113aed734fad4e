"""The interpreter each side of ``harness compare`` runs its app with.

A side reuses the current environment (the target's ``python``) when its dependency and lock files
say the same as the working tree's; otherwise it gets a venv of its own, built with ``uv`` when it is
on PATH and with ``venv`` + pip otherwise, so base and head each run with the packages they declare.
``pyproject.toml`` is compared without its ``[tool.harness]`` table (harness settings are not
dependencies); every other file byte for byte.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError
from harness.server import tail

#: Files that decide what gets installed, relative to the project directory.
DEPENDENCY_GLOBS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements*.txt", "requirements/*.txt",
                    "requirements*.in", "constraints*.txt", "*.lock", "Pipfile", "pylock*.toml")
INSTALL_TIMEOUT_S = 900.0
SERVER_MODULES = {"uvicorn": "uvicorn", "gunicorn": "gunicorn"}


@dataclass(frozen=True)
class SideEnv:
    python: str
    reused: bool
    how: str  # for the report: "reused ..." or "built with uv: ..."


def _normalized(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name != "pyproject.toml":
        return data
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return data
    doc.get("tool", {}).pop("harness", None)
    return repr(sorted(doc.items(), key=lambda kv: kv[0])).encode()


def dependency_files(project: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of the dependency and lock files of a project directory."""
    found: dict[str, bytes] = {}
    for pattern in DEPENDENCY_GLOBS:
        for path in sorted(project.glob(pattern)):
            if path.is_file():
                found[path.relative_to(project).as_posix()] = _normalized(path)
    return found


def differing_files(a: Path, b: Path) -> list[str]:
    """Dependency files present in one project but not the other, or with other contents."""
    fa, fb = dependency_files(a), dependency_files(b)
    return sorted(name for name in fa.keys() | fb.keys() if fa.get(name) != fb.get(name))


def _run(argv: list[str], cwd: Path, log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        try:
            done = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=INSTALL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HarnessError(f"building an environment failed: {exc}; log {log}", exitcodes.INVALID_RUN) from exc
    if done.returncode != 0:
        raise HarnessError(f"building an environment failed ({argv[0]} exit {done.returncode}); log {log}:\n"
                           f"{tail(log, 20)}", exitcodes.INVALID_RUN)


def install_args(project: Path) -> list[str]:
    """What to install for a project: its requirements files, else the project itself."""
    reqs = sorted(p.name for p in project.glob("requirements*.txt") if "dev" not in p.name and "test" not in p.name)
    if reqs:
        return [arg for name in reqs for arg in ("-r", name)]
    if (project / "pyproject.toml").is_file() or (project / "setup.py").is_file():
        return ["."]
    raise HarnessError(f"{project}: its dependency files differ from the working tree's, but there is no "
                       "requirements*.txt, pyproject.toml or setup.py to build its environment from",
                       exitcodes.INVALID_RUN)


def build_venv(project: Path, venv: Path, *, base_python: str, server: str, log: Path,
               which: Callable[[str], str | None] = shutil.which) -> SideEnv:
    """A fresh venv for ``project`` with its declared dependencies and the server it is run with."""
    uv = which("uv")
    python = str(venv / "bin" / "python")
    args = install_args(project)
    extra = [SERVER_MODULES[server]] if server in SERVER_MODULES else []
    if uv:
        _run([uv, "venv", "--quiet", "--python", base_python, str(venv)], project, log)
        _run([uv, "pip", "install", "--python", python, *args, *extra], project, log)
        tool = "uv"
    else:
        _run([base_python, "-m", "venv", str(venv)], project, log)
        _run([python, "-m", "pip", "install", "--quiet", *args, *extra], project, log)
        tool = "pip"
    return SideEnv(python, reused=False, how=f"built with {tool} from {' '.join(args)} (log {log})")


def side_env(project: Path, current_project: Path, current_python: str, *, venv: Path, server: str,
             log: Path, progress: Callable[[str], None] = print) -> SideEnv:
    """Reuse ``current_python`` when ``project`` declares the same dependencies, else build a venv."""
    differ = differing_files(project, current_project)
    if not differ:
        return SideEnv(current_python, reused=True, how=f"reused {current_python} (dependency files identical)")
    progress(f"dependency files differ ({', '.join(differ)}): building a separate environment ...")
    return build_venv(project, venv, base_python=current_python, server=server, log=log)
