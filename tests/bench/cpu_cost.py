"""CPU per request of the hot paths, in process: the load experiments' arms without a generator.

``python -m tests.bench.cpu_cost [--suite cache|middleware|all] [--rounds N] [--block N]``

On a shared machine a load experiment's rps mostly measure how much CPU the server was given.
This drives the ASGI app directly (a prepared scope, ``receive`` and ``send``; no sockets, no HTTP
parsing, no load generator) and reads ``time.process_time()`` around blocks of requests: CPU
seconds of this process (event loop, aiosqlite's thread, logging), which other jobs on the machine
do not inflate the way they inflate wall-clock time. The arms take turns block by block, in a
rotating order, and every ratio is taken round by round from blocks run side by side.

Arms, with the settings and requests of the experiments in pyproject.toml:

- ``cache``: one app as ``harness load run cache`` starts it (``[tool.harness.env]``: full middleware,
  no access lines, rate limiter on at 1,000,000/s, in-memory cache, SQLite file); ``hello`` is
  ``GET /api/v1/lab/hello``; ``cached`` and ``uncached`` read seeded items with a bearer token
  (``/api/v1/items/{id}/cached`` and ``/api/v1/items/{id}``), random ids as load/profiles/cache.py;
- ``middleware``: ``GET /api/v1/lab/hello`` on one app per arm of ``middleware`` and
  ``middleware_layers`` (``bare``; each layer alone and ``full`` with access lines written to a
  file at INFO and tracing sampled at the default ratio by a discarding exporter).

Headers are what Locust's FastHttpUser sends (Host, User-Agent, ``Accept-Encoding: gzip, deflate,
br``). What this leaves out is the server's own cost per request (uvicorn's HTTP parsing and
transport writes), the same in every arm: an rps ratio on a real server is therefore closer to 1
than the CPU ratio printed here. The last column adds ``--server-us`` to every arm (default 30 us:
a raw ASGI callable served 29.6k rps on this machine's uvicorn with wrk on the other core,
NOTES-performance.md, so the server's share is at most ~34 us a request); 0 repeats the ratio.

The test in test_bench_cpu_cost.py runs a short version of this under ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
from fastapi import FastAPI

from reference_app.core.config import Settings
from reference_app.main import create_app
from tests.bench.asgi import asgi_get

JWT_SECRET = "cpu-cost-secret-that-is-long-enough-for-hs256-0123456789"
ITEMS = 100
#: ``[tool.harness.env]`` in pyproject.toml: what every experiment's server gets.
HARNESS_ENV: dict[str, Any] = {
    "access_log": False,
    "log_level": "WARNING",
    "otel_exporter": "none",
    "default_limit": "1000000/second",
    "login_limit": "1000000/second",
    "signup_limit": "1000000/second",
}
#: The env of every ``middleware``/``middleware_layers`` arm except ``bare``.
LAYER_ENV: dict[str, Any] = {"access_log": True, "log_level": "INFO", "otel_exporter": "discard"}
MIDDLEWARE_ARMS = ("bare", "correlation", "timing", "access_log", "metrics", "gzip", "tracing", "full")
CACHE_ARMS = ("hello", "cached", "uncached")
CLIENT_HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"python/gevent-http-client-2.3.1"),
                  (b"accept-encoding", b"gzip, deflate, br")]
CLIENT = ("127.0.0.1", 50000)  # a loopback peer, as the load experiments' Locust is


@dataclass
class Arm:
    name: str
    app: FastAPI
    paths: Sequence[str]
    headers: list[tuple[bytes, bytes]]
    check: bytes  # a byte string every response body must contain
    cpu: list[float] = field(default_factory=list)  # CPU seconds per request, one entry per block


def _settings(workdir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",  # the schema by create_all rather than Alembic; nothing else depends on it here
        "database_url": f"sqlite+aiosqlite:///{workdir}/refapp.db",
        "storage_dir": str(workdir / "files"),
        "jwt_secret": JWT_SECRET,
        **HARNESS_ENV,
        "cache_ttl_s": 3600,  # the cache experiment's env
    }
    values.update(overrides)
    return Settings(**values)


async def _seed(app: FastAPI) -> tuple[str, list[int]]:
    """An account and ITEMS items, over HTTP like harness_setup does; returns (token, item ids)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        account = {"email": "cpu@example.com", "password": "cpu-cost-password-0123", "full_name": "CPU"}
        (await client.post("/api/v1/users", json=account)).raise_for_status()
        token = (await client.post("/api/v1/auth/token", data={
            "username": account["email"], "password": account["password"]})).json()["access_token"]
        ids = []
        for i in range(ITEMS):
            resp = await client.post("/api/v1/items", headers={"Authorization": f"Bearer {token}"},
                                     json={"name": f"item-{i:04d}", "category": "books", "price": 1 + i})
            resp.raise_for_status()
            ids.append(int(resp.json()["id"]))
    return str(token), ids


@contextlib.asynccontextmanager
async def build_arms(suite: str, workdir: Path, log_file: TextIO) -> AsyncIterator[list[Arm]]:
    """Every arm of ``suite`` with its app started (lifespan entered) and its data seeded."""
    arms: list[Arm] = []
    async with contextlib.AsyncExitStack() as stack:
        async def start(name: str, **overrides: Any) -> FastAPI:
            tmp = workdir / name
            tmp.mkdir()
            # configure_logging binds the handler to sys.stderr when the app is built: the access
            # lines go to a file, as a server's log under the harness does.
            with contextlib.redirect_stderr(log_file):
                app = create_app(_settings(tmp, **overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            provider = getattr(app.state, "tracer_provider", None)
            if provider is not None:  # its span-export thread; the lifespan leaves that to process exit
                stack.callback(provider.shutdown)
            return app

        if suite in ("cache", "all"):
            app = await start("cache")
            token, ids = await _seed(app)
            rng = random.Random(1)
            picks = [rng.choice(ids) for _ in range(4096)]
            auth = [*CLIENT_HEADERS, (b"authorization", f"Bearer {token}".encode())]
            for item_id in ids:  # every id cached before measuring: the cached arm measures hits
                status = (await asgi_get(app, f"/api/v1/items/{item_id}/cached", headers=auth, client=CLIENT)).status
                if status != 200:
                    raise AssertionError(f"warming the cache: /api/v1/items/{item_id}/cached answered {status}")
            arms += [
                Arm("hello", app, ["/api/v1/lab/hello"], list(CLIENT_HEADERS), b'"hello"'),
                Arm("cached", app, [f"/api/v1/items/{i}/cached" for i in picks], auth, b'"price"'),
                Arm("uncached", app, [f"/api/v1/items/{i}" for i in picks], auth, b'"price"'),
            ]
        if suite in ("middleware", "all"):
            # Built last: logging is configured per process, and the layer arms' INFO level must win.
            for name in MIDDLEWARE_ARMS:
                env = {} if name == "bare" else LAYER_ENV
                app = await start(f"mw-{name}", middleware=name, **env)
                arms.append(Arm(f"mw:{name}", app, ["/api/v1/lab/hello"], list(CLIENT_HEADERS), b'"hello"'))
        yield arms


async def _block(arm: Arm, n: int, offset: int) -> float:
    paths = arm.paths
    start = time.process_time()
    for i in range(n):
        response = await asgi_get(arm.app, paths[(offset + i) % len(paths)], headers=arm.headers, client=CLIENT)
        if response.status != 200 or arm.check not in response.body:
            raise AssertionError(f"{arm.name}: {response.status} {response.body[:200]!r}")
    return (time.process_time() - start) / n


async def measure(arms: list[Arm], rounds: int, block: int, warmup: int = 2) -> None:
    """``rounds`` rounds; in each every arm runs one block of ``block`` requests, order rotating."""
    for r in range(warmup + rounds):
        order = arms[r % len(arms):] + arms[: r % len(arms)]
        for arm in order:
            gc.collect()
            cost = await _block(arm, block, r * block)
            if r >= warmup:
                arm.cpu.append(cost)


def ratio(a: Arm, b: Arm) -> tuple[float, float, float]:
    """CPU of a over CPU of b: median and the range of the middle half, over rounds (paired)."""
    pairs = sorted(x / y for x, y in zip(a.cpu, b.cpu, strict=True))
    q = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [pairs[0]] * 3
    return statistics.median(pairs), q[0], q[2]


def rps_bound(cost_a_us: float, cost_b_us: float, server_us: float) -> float:
    """rps of a over rps of b when both are CPU-bound on one core and the server adds ``server_us``."""
    return (cost_b_us + server_us) / (cost_a_us + server_us)


def report(arms: list[Arm], server_us: float, out: TextIO) -> dict[str, float]:
    by_name = {a.name: a for a in arms}
    figures: dict[str, float] = {}
    out.write(f"{'arm':<16} {'CPU us/request':>15} {'(min-max over rounds)':>24}\n")
    for arm in arms:
        us = statistics.median(arm.cpu) * 1e6
        figures[arm.name] = us
        out.write(f"{arm.name:<16} {us:>15.1f} {min(arm.cpu) * 1e6:>11.1f} - {max(arm.cpu) * 1e6:<10.1f}\n")
    comparisons = [("cached", "uncached"), ("cached", "hello")]
    comparisons += [(f"mw:{n}", "mw:bare") for n in MIDDLEWARE_ARMS if n != "bare"]
    out.write(f"\n{'rps a / rps b':<28} {'= CPU b / CPU a':>16} {'IQR over rounds':>18} "
              f"{f'with server +{server_us:g} us':>24}\n")
    for a, b in comparisons:
        if a not in by_name or b not in by_name:
            continue
        med, lo, hi = ratio(by_name[b], by_name[a])  # rps of a over rps of b = CPU of b over CPU of a
        figures[f"{a}/{b}"] = med
        bound = rps_bound(figures[a], figures[b], server_us)
        out.write(f"{a + ' / ' + b:<28} {med:>16.3f} {f'[{lo:.3f}, {hi:.3f}]':>18} {bound:>24.3f}\n")
    return figures


async def run(suite: str, rounds: int, block: int, server_us: float, out: TextIO) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cpu-cost-") as tmp:
        workdir = Path(tmp)
        with (workdir / "server.log").open("w") as log_file:
            async with build_arms(suite, workdir, log_file) as arms:
                await measure(arms, rounds, block)
                return report(arms, server_us, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cpu_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("cache", "middleware", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=15, help="blocks per arm (default 15)")
    parser.add_argument("--block", type=int, default=300, help="requests per block (default 300)")
    parser.add_argument("--server-us", type=float, default=30.0,
                        help="the server's own CPU per request (uvicorn), added to every arm for the rps "
                             "estimate (default 30)")
    args = parser.parse_args(argv)
    if args.rounds < 2 or args.block < 1:
        parser.error("--rounds must be >= 2 and --block >= 1")
    asyncio.run(run(args.suite, args.rounds, args.block, args.server_us, sys.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
