"""Fixtures for the examples/ tests: a temporary copy of the example, the CLI run from it, its servers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.examples.support import COMMAND_TIMEOUT, Done, Harness, Servers, clean_env, copy_example, harness_command


@pytest.fixture
def bookshelf(tmp_path: Path) -> Path:
    """A fresh copy of the example, the cwd of every command a test runs."""
    return copy_example(tmp_path / "bookshelf")


@pytest.fixture
def harness(bookshelf: Path) -> Harness:
    """Run ``harness ARGS...`` in the copy (or ``cwd=``), returning its exit code and output."""

    def run(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Done:
        start = time.monotonic()
        proc = subprocess.run(
            [*harness_command(), *args],
            cwd=cwd or bookshelf,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return Done(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)

    return run


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Start bookshelf servers on loopback; every one is stopped when the test ends, pass or fail."""
    started = Servers(tmp_path / "server-logs")
    try:
        yield started
    finally:
        started.stop_all()
