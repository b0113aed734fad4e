"""Helpers for driving ``examples/bookshelf`` the way a team drives its own service.

Everything happens in a temporary copy of the example, through the installed ``harness`` console
script run as a subprocess from that copy's directory: no harness module is imported here, so the
tests see exactly what a user sees (exit codes, stdout/stderr, files written).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "bookshelf"
APP = "bookshelf.app:app"
TOKEN = "shelf-token"  # the example's default BOOKSHELF_TOKEN
TOKEN_HEADER = f"X-Token: {TOKEN}"
PLANTED_ENDPOINT = "/api/shelf/reading-plan"
# The planted bug and its one-line fix (see the comment above this line in bookshelf/app.py).
PLANTED_LINE = "    pace = pages_per_day\n"
FIXED_LINE = "    pace = pages_per_day or DEFAULT_PAGES_PER_DAY\n"
# Removing this decorator leaves a plain function: the route is gone, the module still imports.
DELETE_ROUTE_DECORATOR = '@router.delete("/books/{book_id}"'
# Generous: these bound a hung command, they are not a performance claim.
COMMAND_TIMEOUT = 300
SERVER_START_TIMEOUT = 60


@dataclass(frozen=True)
class Done:
    """A finished ``harness`` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        """What an assertion message shows: the command and the tail of both streams."""
        return (
            f"$ harness {' '.join(self.args)}\n-> exit {self.returncode} after {self.seconds:.1f} s\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def harness_command() -> list[str]:
    """The console script installed next to this interpreter, as a user would call it."""
    script = Path(sys.executable).with_name("harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without settings that belong to the reference app or to the example."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFAPP_", "BOOKSHELF_", "HARNESS_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env | dict(extra or {})


def copy_example(dest: Path) -> Path:
    shutil.copytree(
        EXAMPLE,
        dest,
        ignore=shutil.ignore_patterns("__pycache__", "*.db", "*.db-*", "*.egg-info", "build", "reports", ".harness"),
    )
    return dest


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a source file of the copy; the marker must be there exactly once, or the test is stale."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once; update the test with the example"
    path.write_text(text.replace(old, new))


def fix_planted_bug(root: Path) -> None:
    replace_once(root / "bookshelf" / "app.py", PLANTED_LINE, FIXED_LINE)


Harness = Callable[..., Done]


def read_json(path: Path) -> Any:
    assert path.is_file(), f"{path} was not written"
    return json.loads(path.read_text())


class Servers:
    """Bookshelf servers started with plain uvicorn, as a team's running service would be."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, app_dir: Path, env: Mapping[str, str]) -> str:
        """Start one server on a free loopback port (uvicorn picks it: no race) and return its URL."""
        self._logs.mkdir(parents=True, exist_ok=True)
        log = self._logs / f"server-{len(self._procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", "0"],
                cwd=app_dir,
                env=clean_env(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._procs.append(proc)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if match:
                url = match.group(1)
                # Ready means the app answers, not only that the socket is bound.
                if httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200:
                    return url
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"bookshelf server did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def stop_all(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def server_env(db: Path) -> dict[str, str]:
    return {"BOOKSHELF_DB": str(db)}
