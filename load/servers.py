"""The servers an experiment drives: one per distinct server configuration, started concurrently.

Start-up is most of a short run's wall time (a server is ~4 CPU-seconds of imports and migrations on
this kind of machine), so two things keep it off the critical path:

- **migrations run once** per run (``MigratedSchema``): on SQLite into a template database that every
  server gets a copy of (SQLite's backup API, so the copy is consistent); on PostgreSQL into the
  shared database, once, instead of N processes racing ``alembic upgrade`` on the same schema.
  Servers then start with no migration step (uvicorn) or ``REFAPP_MIGRATE_ON_START=false`` (gunicorn).
- servers are started **concurrently** (``ServerSet.start_all``), each seeded as soon as it is ready.

A stub app (``server_overrides={"migrate_cmd": None, ...}``, used by the tests) has no migrations and
starts on an empty database, as before.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import exitcodes
from harness.server import DEFAULT_MIGRATE_CMD, ServerConfig, ServerProcess, build_env, run_migrations
from load.experiment import Experiment, server_key
from load.seeding import SeedData, lab_config, seed

if TYPE_CHECKING:
    from load.runner import RunOptions

DOWNSTREAM_APP = "reference_app.downstream.app:create_pricing_app"
Progress = Callable[[str], None]
ServerKey = tuple[str, int, tuple[tuple[str, str], ...]]


def base_server_env(opts: RunOptions, workdir: Path) -> dict[str, str]:
    """Defaults for measuring: quiet logs, limits that don't interfere, a private database."""
    if opts.backend == "postgres" and not opts.database_url:
        raise exitcodes.HarnessError("--backend postgres needs --database-url postgresql+asyncpg://...")
    env = {
        "REFAPP_ACCESS_LOG": "false",
        "REFAPP_LOG_LEVEL": "WARNING",
        "REFAPP_OTEL_EXPORTER": "none",
        "REFAPP_JWT_SECRET": secrets.token_urlsafe(48),
        # The default/login/signup limits would throttle the load itself; the lab limit stays.
        "REFAPP_DEFAULT_LIMIT": "1000000/second",
        "REFAPP_LOGIN_LIMIT": "1000000/second",
        "REFAPP_SIGNUP_LIMIT": "1000000/second",
        "REFAPP_STORAGE_DIR": str(workdir / "files"),
        "REFAPP_DATABASE_URL": opts.database_url or sqlite_url(workdir / "refapp.db"),
    }
    if opts.redis_url:
        env["REFAPP_REDIS_URL"] = opts.redis_url
    env.update(opts.server_env)
    return env


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def migrate_cmd_for(opts: RunOptions) -> tuple[str, ...] | None:
    """The run's migration command; ``None`` when the app has none (a stub app in the tests)."""
    if "migrate_cmd" in opts.server_overrides:
        cmd = opts.server_overrides["migrate_cmd"]
        return None if cmd is None else tuple(cmd)
    return opts.migrate_cmd if opts.migrate_cmd is not None else DEFAULT_MIGRATE_CMD


class MigratedSchema:
    """Migrations run once, on first use, then every server starts from the migrated schema.

    Thread-safe: experiments started concurrently share one instance (the main job's), and the first
    caller migrates while the others wait for it.
    """

    def __init__(self, opts: RunOptions, workdir: Path) -> None:
        self.opts, self.workdir = opts, workdir
        self.migrate_cmd = migrate_cmd_for(opts)
        self._lock = threading.Lock()
        self._done = False

    @property
    def template(self) -> Path:
        return self.workdir / "template.db"

    def ensure(self, progress: Progress) -> None:
        if self.migrate_cmd is None:
            return
        with self._lock:
            if self._done:
                return
            self.workdir.mkdir(parents=True, exist_ok=True)
            env = base_server_env(self.opts, self.workdir)
            if self.opts.database_url is None:
                env["REFAPP_DATABASE_URL"] = sqlite_url(self.template)
            target = "the shared database" if self.opts.database_url else "a template SQLite database"
            progress(f"migrating {target} once for every server ...")
            config = ServerConfig(migrate_cmd=self.migrate_cmd, **_config_fields(self.opts))
            log_path = self.workdir / "migrate.log"
            with log_path.open("ab") as log:
                run_migrations(config, build_env(env), log, log_path)
            self._done = True

    def server_env(self, workdir: Path) -> dict[str, str]:
        """What a server needs to start on the migrated schema (after ``ensure``)."""
        if self.migrate_cmd is None:
            return {}
        if self.opts.database_url is None:
            db = workdir / "refapp.db"
            with contextlib.closing(sqlite3.connect(self.template)) as src, \
                    contextlib.closing(sqlite3.connect(db)) as dst:
                src.backup(dst)
        return {"REFAPP_MIGRATE_ON_START": "false"}


def _config_fields(opts: RunOptions) -> dict[str, Any]:
    """ServerConfig fields from ``server_overrides`` other than the migration command."""
    return {k: v for k, v in opts.server_overrides.items() if k != "migrate_cmd"}


@dataclass
class ArmServer:
    server: ServerProcess
    seeded: SeedData | None
    lab_config: dict[str, Any] | None
    kind: tuple[str, int, dict[str, str]]  # (server, workers, app env of the arm)


class ServerSet(contextlib.ExitStack):
    """One server per distinct server configuration of an experiment's arms; arms map onto them."""

    def __init__(self, exp: Experiment, opts: RunOptions, out: Path, progress: Progress,
                 schema: MigratedSchema) -> None:
        super().__init__()
        self.exp, self.opts, self.out, self.progress, self.schema = exp, opts, out, progress, schema
        self.by_arm: dict[str, ArmServer] = {}
        self._lock = threading.Lock()

    def _enter(self, srv: ServerProcess) -> ServerProcess:
        """Start ``srv`` and register it for teardown, whether or not the start succeeds."""
        with self._lock:
            self.callback(srv.stop)
        srv.start()
        return srv

    def start_downstream(self) -> dict[str, str]:
        """Experiments with ``downstream_env`` get one pricing process, shared by every arm."""
        if self.exp.downstream_env is None:
            return {}
        srv = ServerProcess(ServerConfig(app=DOWNSTREAM_APP, migrate_cmd=None, ready_path="/health",
                                         env=dict(self.exp.downstream_env)),
                            log_path=self.out / "logs" / "downstream.log")
        self.progress(f"[{self.exp.name}] starting the pricing downstream ...")
        self._enter(srv)
        self.progress(f"[{self.exp.name}] downstream at {srv.base_url} (pid {srv.pid}), "
                      f"env {dict(self.exp.downstream_env)}")
        return {"REFAPP_PRICING_URL": srv.base_url}

    def _start_one(self, n: int, key: ServerKey, arm_name: str, env: dict[str, str]) -> tuple[
            ServerProcess, SeedData | None, dict[str, Any] | None]:
        kind, workers, _ = key
        workdir = self.out / "servers" / f"s{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        env = {**base_server_env(self.opts, workdir), **env, **self.schema.server_env(workdir)}
        # migrate_cmd=None: the schema was migrated once, by MigratedSchema (or the app has no migrations).
        # ServerConfig checks ``kind`` (a str from the experiment's data) at run time.
        cfg: dict[str, Any] = {"server": kind, "workers": workers, "env": env, "migrate_cmd": None,
                               **_config_fields(self.opts)}
        srv = ServerProcess(ServerConfig(**cfg), log_path=self.out / "logs" / f"server-s{n}.log")
        self.progress(f"[{self.exp.name}] starting {kind} ({workers} worker(s)) for arm {arm_name} ...")
        self._enter(srv)
        seeded = (seed(srv.base_url, items=self.exp.seed_items, seed=self.opts.seed, label=f"load-s{n}")
                  if self.exp.seed_items else None)
        self.progress(f"[{self.exp.name}] {kind} ready at {srv.base_url} (pid {srv.pid}) for arm {arm_name}"
                      + (f", seeded {len(seeded.item_ids)} items" if seeded else ""))
        return srv, seeded, lab_config(srv.base_url)

    def start_all(self, *, concurrency: int = 4) -> None:
        """Migrate (once), then start every distinct server concurrently; raises the first failure."""
        self.schema.ensure(self.progress)
        downstream = self.start_downstream()
        key_by_arm = {arm.name: server_key(arm, self.opts.server, self.opts.workers, self.exp.app_env)
                      for arm in self.exp.arms}
        first_arm: dict[ServerKey, str] = {}  # one server per key, named after the first arm using it
        for name, key in key_by_arm.items():
            first_arm.setdefault(key, name)
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(first_arm)))) as pool:
            # key[2] is the server's app env: the experiment's, then the arm's
            futures = {key: pool.submit(self._start_one, n, key, name, {**downstream, **dict(key[2])})
                       for n, (key, name) in enumerate(first_arm.items())}
            started = {key: f.result() for key, f in futures.items()}
        for name, key in key_by_arm.items():
            srv, seeded, cfg = started[key]
            self.by_arm[name] = ArmServer(srv, seeded, cfg, (key[0], key[1], dict(key[2])))
