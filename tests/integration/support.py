"""Helpers of the integration suite (not fixtures): databases, Redis, containers, polling, servers.

Admin work on PostgreSQL uses asyncpg directly (the app's own driver). Sync fixtures run it with
``run_async``, in a worker thread with its own event loop, so it never meets pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import redis
from sqlalchemy.engine import make_url

from reference_app import migrate
from tests.utils.app_fixtures import FAST_HASH, JWT_SECRET

T = TypeVar("T")
DB_PREFIX = "itest_"
#: Postgres settings that make a throwaway server fast (no durability needed). Applied only to a
#: container this suite started, never to a server given by HARNESS_DATABASE_URL.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def run_async(fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 120.0) -> T:
    """Run ``fn(*args)`` to completion on a fresh event loop in a worker thread."""

    async def call() -> T:
        return await fn(*args)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call()).result(timeout=timeout)


def run_in_thread(fn: Callable[..., T], *args: Any, timeout: float = 120.0) -> T:
    """Run a blocking ``fn`` (e.g. Alembic, whose env calls ``asyncio.run``) off the event loop's thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result(timeout=timeout)


async def wait_for(predicate: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.1,
                   what: str = "condition") -> None:
    """Poll an async predicate until it holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            if await predicate():
                return
        except (OSError, asyncpg.PostgresError, redis.RedisError):
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


# ---- PostgreSQL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgDb:
    """One database: ``url`` for the app (SQLAlchemy + asyncpg), ``dsn`` for asyncpg itself."""

    name: str
    url: str
    dsn: str

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, timeout=10)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.connect()
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def fetchval(self, query: str, *args: Any) -> Any:
        conn = await self.connect()
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def execute(self, query: str, *args: Any) -> str:
        conn = await self.connect()
        try:
            return str(await conn.execute(query, *args))
        finally:
            await conn.close()

    async def tables(self) -> set[str]:
        rows = await self.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}

    async def backends(self, *, exclude_pid: int | None = None) -> list[asyncpg.Record]:
        """Client connections to this database (our own admin connection excluded)."""
        conn = await self.connect()
        try:
            rows = await conn.fetch(
                "SELECT pid, state, wait_event_type, query FROM pg_stat_activity "
                "WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                self.name,
            )
        finally:
            await conn.close()
        return [r for r in rows if r["pid"] != exclude_pid]


@dataclass
class PgServer:
    """The session's PostgreSQL: admin access, the migrated template, per-test databases."""

    host: str
    port: int
    user: str
    password: str
    admin_db: str
    owned: bool
    template: str = ""

    @classmethod
    def from_url(cls, url: str, *, owned: bool) -> PgServer:
        u = make_url(url)
        return cls(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                   password=u.password or "", admin_db=u.database or "postgres", owned=owned)

    def db(self, name: str) -> PgDb:
        auth = f"{self.user}:{self.password}@{self.host}:{self.port}"
        return PgDb(name=name, url=f"postgresql+asyncpg://{auth}/{name}", dsn=f"postgresql://{auth}/{name}")

    @property
    def admin(self) -> PgDb:
        return self.db(self.admin_db)

    async def prepare(self) -> None:
        conn = await self.admin.connect()
        try:
            if self.owned:
                for key, value in THROWAWAY_SETTINGS.items():
                    await conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
                await conn.execute("SELECT pg_reload_conf()")
            self.template = f"{DB_PREFIX}tmpl_{uuid.uuid4().hex[:8]}"
            await conn.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await conn.close()
        # Alembic's env runs its own event loop: give it a thread of its own.
        await asyncio.to_thread(migrate.upgrade, self.db(self.template).url)

    async def create_database(self, template: str | None = "") -> PgDb:
        """A new database copied from the migrated template (``template=None``: empty, from template0)."""
        name = f"{DB_PREFIX}{uuid.uuid4().hex[:12]}"
        source = self.template if template == "" else (template or "template0")
        conn = await self.admin.connect()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        finally:
            await conn.close()
        return self.db(name)

    async def drop_database(self, name: str) -> None:
        conn = await self.admin.connect()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def cleanup(self) -> None:
        conn = await self.admin.connect()
        try:
            names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", DB_PREFIX + "%")
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()


# ---- Redis ----------------------------------------------------------------------------------------


@dataclass
class RedisDb:
    host: str
    port: int
    index: int
    client: redis.Redis

    @classmethod
    def from_url(cls, url: str, index: int) -> RedisDb:
        parsed = redis.connection.parse_url(url)
        host, port = str(parsed.get("host", "127.0.0.1")), int(parsed.get("port", 6379))
        client = redis.Redis(host=host, port=port, db=index, socket_timeout=5, socket_connect_timeout=5)
        return cls(host=host, port=port, index=index, client=client)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.index}"


# ---- containers -----------------------------------------------------------------------------------


def container_by_host_port(port: int) -> Any:
    """The running container that publishes ``port`` on the host, via the Docker SDK (or None)."""
    from harness.containers.engine import docker_sdk

    client = docker_sdk().from_env()
    try:
        for container in client.containers.list():
            for bindings in (container.ports or {}).values():
                if any(str(b.get("HostPort")) == str(port) for b in bindings or []):
                    return container
    finally:
        client.close()
    return None


# ---- servers --------------------------------------------------------------------------------------


def server_env(tmp_path: Path, db: PgDb, redis_db: RedisDb | None, **overrides: str) -> dict[str, str]:
    """REFAPP_* for a server process; keyword names are settings without the prefix (``lab_limit=...``)."""
    env = {
        "REFAPP_ENV": "test",
        "REFAPP_DATABASE_URL": db.url,
        "REFAPP_JWT_SECRET": JWT_SECRET,
        "REFAPP_ACCESS_LOG": "false",
        "REFAPP_LOG_LEVEL": "WARNING",
        "REFAPP_STORAGE_DIR": str(tmp_path / "files"),
        "REFAPP_DEFAULT_LIMIT": "100000/minute",
        "REFAPP_LOGIN_LIMIT": "10000/minute",
        "REFAPP_SIGNUP_LIMIT": "10000/minute",
        "REFAPP_LAB_LIMIT": "100000/minute",
        "REFAPP_ARGON2_TIME_COST": str(FAST_HASH["argon2_time_cost"]),
        "REFAPP_ARGON2_MEMORY_COST_KIB": str(FAST_HASH["argon2_memory_cost_kib"]),
        "REFAPP_OTEL_EXPORTER": "none",
        # Generous backend timeouts (see GENEROUS_BACKEND_TIMEOUTS in conftest.py): a server under test
        # on a loaded machine must not turn one slow call into a 503; tests about timeouts override.
        "REFAPP_REDIS_TIMEOUT_S": "5",
        "REFAPP_DB_POOL_TIMEOUT_S": "30",
        "REFAPP_DB_STATEMENT_TIMEOUT_MS": "60000",
    }
    if redis_db is not None:
        env["REFAPP_REDIS_URL"] = redis_db.url
    env.update({f"REFAPP_{k.upper()}": v for k, v in overrides.items()})
    return env


def server(tmp_path: Path, env: dict[str, str], *, kind: str = "uvicorn", workers: int = 1,
           migrate: bool = False, name: str = "server") -> Any:
    """A ``harness.server.ServerProcess`` (use as a context manager) for the app on 127.0.0.1.

    ``migrate=False`` is for databases copied from the migrated template: no migration process
    (uvicorn) and no ``on_starting`` upgrade (gunicorn). ``migrate=True`` exercises the real
    start-up path on an empty database.
    """
    import sys

    from harness.server import ServerConfig, ServerProcess

    env = dict(env)
    if kind == "gunicorn" and not migrate:
        env["REFAPP_MIGRATE_ON_START"] = "false"
    root = Path(__file__).resolve().parents[2]
    config = ServerConfig(app="reference_app.main:create_app", server=kind, workers=workers,  # type: ignore[arg-type]
                          env=env, factory=True, gunicorn_conf=str(root / "reference_app" / "gunicorn.conf.py"),
                          cwd=root, ready_path="/health/ready", passthrough=("REFAPP_",),
                          migrate_cmd=[sys.executable, "-m", "reference_app.migrate", "upgrade"] if migrate else None,
                          ready_timeout_s=120.0, stop_timeout_s=15.0)
    return ServerProcess(config, log_path=tmp_path / f"{name}.log")


async def wait_for_workers(srv: Any, count: int, *, within: float = 60.0) -> list[int]:
    """Until the server process has ``count`` workers (gunicorn forks them after the master is up)."""
    pids: list[int] = []

    async def enough() -> bool:
        nonlocal pids
        pids = srv.worker_pids()
        return len(pids) >= count

    await wait_for(enough, within=within, interval=0.2, what=f"{count} workers")
    return pids


_METRICS_SELF = "http_requests_created{method=\"GET\",route=\"/metrics\",status=\"200\"} "


def worker_identity(metrics_text: str) -> str | None:
    """Which worker process wrote this ``/metrics`` page (None before it has served a scrape).

    Every worker has its own registry, so the creation time of its ``/metrics`` series is its own.
    """
    for line in metrics_text.splitlines():
        if line.startswith(_METRICS_SELF):
            return line.removeprefix(_METRICS_SELF)
    return None


async def wait_for_serving_workers(base_url: str, count: int, *, within: float = 90.0) -> int:
    """Until ``count`` distinct worker processes answer requests (not merely exist).

    Each scrape is a fresh connection, so any worker may take it. A forked
    worker that is still importing the app or running its lifespan answers nothing: waiting for
    PIDs alone would let one early worker take a whole burst.
    """
    import httpx

    seen: set[str] = set()
    limits = httpx.Limits(max_keepalive_connections=0)
    # A scrape that times out raises (httpx errors are not OSErrors): generous for workers still warming up.
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False, limits=limits) as client:
        async def enough() -> bool:
            if (worker := worker_identity((await client.get("/metrics")).text)) is not None:
                seen.add(worker)
            return len(seen) >= count

        await wait_for(enough, within=within, interval=0.02, what=f"{count} workers serving requests")
    return len(seen)
