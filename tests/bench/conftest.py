"""Shared fixtures for the microbenchmarks (pytest-benchmark, marker ``bench``).

Async code is driven the honest way: one event loop per module (``bench_loop``), and each
benchmark round is one ``loop.run_until_complete(batch)`` of many awaits, so what is timed is the
awaited code and not the cost of creating and tearing down a loop (``asyncio.run`` per call would
measure mostly that). Results per round are for ``BATCH`` operations (recorded as ``ops_per_round`` in each
benchmark's ``extra_info``); divide by it for the per-operation figure.

Run them with ``.venv/bin/python -m pytest tests/bench -m bench --benchmark-autosave`` (``make bench``),
then ``harness bench compare`` to compare against the previous saved run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from reference_app.core.config import Settings
from reference_app.main import create_app

#: Awaits per benchmark round for the async benchmarks (one ``run_until_complete`` each).
BATCH = 100
JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"


def bench_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for in-process benchmarks: test env, in-memory SQLite, no access log, no limits in the way."""
    values: dict[str, Any] = {
        "env": "test",
        "database_url": "sqlite+aiosqlite:///:memory:",
        "storage_dir": str(tmp_path / "files"),
        "jwt_secret": JWT_SECRET,
        "access_log": False,
        "log_level": "WARNING",
        "otel_exporter": "none",
        "default_limit": "1000000/second",
        "lab_limit": "1000000/second",
        # The app's default argon2 costs are what the hash benchmark measures; building the app pays
        # one dummy hash at those costs, so keep them (no FAST_HASH here).
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def bench_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the whole module; benchmarks call ``run_until_complete`` on it per round."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_batch(loop: asyncio.AbstractEventLoop, make: Callable[[int], Awaitable[Any]], n: int = BATCH) -> Any:
    """Await ``make(i)`` for i in range(n) sequentially inside one ``run_until_complete``; return the last result."""

    async def batch() -> Any:
        result = None
        for i in range(n):
            result = await make(i)
        return result

    return loop.run_until_complete(batch())


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
def started_app(bench_loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Callable[[str], FastAPI]]:
    """``started_app("full" | "bare")``: an app built with that middleware stack, its lifespan entered.

    Both are started here, not on first use: their database threads then belong to this module-scoped
    fixture and not to whichever benchmark happened to ask first (the suite's leak check holds a test
    to what it started itself).
    """
    stack = contextlib.AsyncExitStack()
    apps: dict[str, FastAPI] = {}
    try:
        for middleware in ("full", "bare"):
            tmp = tmp_path_factory.mktemp(f"app-{middleware}")
            app = create_app(bench_settings(tmp, middleware=middleware))
            apps[middleware] = bench_loop.run_until_complete(stack.enter_async_context(_lifespan(app)))
        yield apps.__getitem__
    finally:
        bench_loop.run_until_complete(stack.aclose())


def per_op(benchmark: Any, ops: int) -> None:
    """Record how many operations one round performs (the stats are per round)."""
    benchmark.extra_info["ops_per_round"] = ops


#: ``harness run`` starts the benchmarks while its servers start (pytest's imports are seconds of
#: CPU, and that phase is CPU-bound anyway), then holds them here until the load is over: this file
#: descriptor (inherited from the job) delivers one line, ``go`` to run or anything else to stop.
HOLD_FD_ENV = "HARNESS_BENCH_HOLD_FD"


def pytest_collection_finish(session: pytest.Session) -> None:
    fd = os.environ.get(HOLD_FD_ENV)
    if not fd:
        return
    with os.fdopen(int(fd), "rb", closefd=True) as hold:
        word = hold.readline().strip()
    if word != b"go":  # the job gave up (or died: end of file)
        pytest.exit("harness run released the benchmarks without running them", returncode=pytest.ExitCode.INTERRUPTED)
