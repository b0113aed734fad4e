"""The servers an experiment drives: one per distinct server configuration, started concurrently.

Everything app-specific comes from the target (``harness.target.Target``): the app, how it is
served, its env (``{workdir}`` is a private directory per server), its migrate command, the
companion services an experiment needs, and an experiment's ``setup`` command.

Start-up is most of a short run's wall time (a server is seconds of imports and migrations), so:

- **migrations run once** per run (``MigratedSchema``): the target's ``migrate`` command runs with
  the server env of a template directory, and every server starts with a copy of that directory's
  files (a SQLite database migrated once); with a shared database (``--backend postgres``) it
  migrates that database once instead of N processes racing on the same schema;
- servers are started **concurrently** (``ServerSet.start_all``), each set up as soon as it is ready.

An arm with a URL has no server: it is checked to answer, and its server CPU is unknown.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness import exitcodes
from harness.companion import CompanionProcess
from harness.reach import require_answer
from harness.server import ServerConfig, ServerProcess, build_env, run_migrations
from harness.target import Target, expand_env, run_token
from load.experiment import Experiment, server_key

if TYPE_CHECKING:
    from load.runner import RunOptions

Progress = Callable[[str], None]
ServerKey = tuple[str, int, tuple[tuple[str, str], ...]]
SETUP_TIMEOUT_S = 300.0


def backend_env(target: Target, opts: RunOptions) -> dict[str, str]:
    """The database / Redis URLs of ``--backend postgres`` in the variables the target names."""
    env: dict[str, str] = {}
    if opts.backend == "postgres" and not opts.database_url:
        raise exitcodes.HarnessError("--backend postgres needs --database-url")
    for url, name, what in ((opts.database_url, target.backend.database_url_env, "database_url_env"),
                            (opts.redis_url, target.backend.redis_url_env, "redis_url_env")):
        if url:
            if not name:
                raise exitcodes.HarnessError(f"a {what.split('_')[0]} URL was given, but [tool.harness.backend] "
                                             f"declares no {what}")
            env[name] = url
    return env


def base_server_env(target: Target, opts: RunOptions, workdir: Path, token: str) -> dict[str, str]:
    """The target's env (placeholders filled) + the backend's URLs + the run's extra server env."""
    return {**expand_env(target.env, workdir=workdir, token=token), **backend_env(target, opts),
            **opts.server_env}


def server_config(target: Target, env: dict[str, str], *, kind: str | None = None, workers: int = 1,
                  migrate: bool = False) -> ServerConfig:
    kind = kind or target.serve.kind
    return ServerConfig(
        app=target.require_app(), server=kind, workers=workers, env=env,  # type: ignore[arg-type]
        factory=target.factory,
        gunicorn_conf=str(target.serve.gunicorn_conf) if target.serve.gunicorn_conf else None,
        command_template=target.serve.command, cwd=target.app_dir, python=target.python,
        ready_path=target.ready, passthrough=tuple(target.env_passthrough),
        migrate_cmd=target.command(target.migrate) if migrate and target.migrate else None)


def service_process(target: Target, name: str, overrides: dict[str, str], log_path: Path) -> tuple[
        ServerProcess, str]:
    """A companion service (``[tool.harness.services.NAME]``), not started yet, and its URL variable."""
    try:
        svc = target.services[name]
    except KeyError:
        raise exitcodes.HarnessError(f"unknown service {name!r}; [tool.harness.services] declares "
                                     f"{', '.join(target.services) or 'none'}") from None
    config = ServerConfig(app=svc.app, env={**svc.env, **overrides}, cwd=target.app_dir, python=target.python,
                          ready_path=svc.ready)
    return ServerProcess(config, log_path=log_path), svc.url_env


def run_setup(target: Target, command: str, url: str, seed: int, log_path: Path) -> dict[str, str]:
    """An experiment's ``setup`` command against a ready server; its last stdout line (JSON) adds
    locust options (``{"item_ids": "1,2"}`` becomes ``HARNESS_ITEM_IDS``)."""
    argv = target.command(command, url=url, seed=str(seed))
    try:
        done = subprocess.run(argv, cwd=target.app_dir, capture_output=True, text=True,  # noqa: S603 - the target's own command
                              timeout=SETUP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise exitcodes.HarnessError(f"setup command failed: {exc}", exitcodes.INVALID_RUN) from exc
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"[harness.setup] {' '.join(argv)} -> exit {done.returncode}\n{done.stderr}")
    if done.returncode != 0:
        raise exitcodes.HarnessError(f"setup command exited {done.returncode}: {done.stderr.strip()[-500:]}",
                                     exitcodes.INVALID_RUN)
    lines = done.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError as exc:
        raise exitcodes.HarnessError(f"setup command's last line is not a JSON object: {lines[-1][:200]!r}",
                                     exitcodes.INVALID_RUN) from exc
    if not isinstance(data, dict):
        raise exitcodes.HarnessError("setup command's last line is not a JSON object", exitcodes.INVALID_RUN)
    return {f"HARNESS_{str(k).upper()}": str(v) for k, v in data.items()}


def check_url(name: str, url: str, timeout_s: float = 5.0, *, remote_ok: bool = False) -> None:
    """A URL arm must answer (any HTTP status) before minutes of load are planned around it.

    ``remote_ok`` (``--remote-target``, only with remote workers): a service off this machine."""
    from load.rounds import LOOPBACK_PREFIXES

    if not remote_ok and not url.startswith(LOOPBACK_PREFIXES):
        raise exitcodes.HarnessError(f"arm {name}: {url} is not a loopback URL; load is only ever sent to "
                                     f"this machine ({', '.join(LOOPBACK_PREFIXES)}...)")
    require_answer(url, f"arm {name}", timeout_s=timeout_s, trust_env=False)


class MigratedSchema:
    """The target's migrate command, run once on first use; every server then starts from a copy.

    Thread-safe: experiments started concurrently share one instance (the main job's), and the first
    caller migrates while the others wait for it.
    """

    def __init__(self, target: Target, opts: RunOptions, workdir: Path) -> None:
        self.target, self.opts, self.workdir = target, opts, workdir
        self.token = run_token()  # one per run: {random} in the env is the same for every server
        self._lock = threading.Lock()
        self._done = False

    def ensure(self, progress: Progress) -> None:
        if not self.target.migrate:
            return
        with self._lock:
            if self._done:
                return
            self.workdir.mkdir(parents=True, exist_ok=True)
            env = base_server_env(self.target, self.opts, self.workdir, self.token)
            progress("running the target's migrate command once for every server ...")
            config = server_config(self.target, env, migrate=True)
            log_path = self.workdir / "migrate.log"
            with log_path.open("ab") as log:
                run_migrations(config, build_env(env, passthrough=config.passthrough), log, log_path)
            self._done = True

    def seed_workdir(self, workdir: Path) -> None:
        """Copy the migrated files (a SQLite database) into a server's own directory (after ``ensure``)."""
        if not self._done:
            return
        for path in self.workdir.iterdir():
            if path.is_file() and path.name != "migrate.log":
                shutil.copy2(path, workdir / path.name)


@dataclass
class ArmServer:
    server: ServerProcess | None  # None: a URL arm
    base_url: str
    options: dict[str, str]  # locust options from the setup command
    kind: tuple[str, int, dict[str, str]]  # (server, workers, app env of the arm)
    #: Companion processes of the arm (a queue worker): part of what the arm costs and of what must stay up.
    companions: tuple[CompanionProcess, ...] = ()

    def pids(self) -> list[int]:
        own = self.server.all_pids() if self.server is not None else []
        return own + [pid for c in self.companions for pid in c.pids()]

    def alive(self) -> bool:
        return (self.server is None or self.server.alive()) and all(c.alive() for c in self.companions)


class ServerSet(contextlib.ExitStack):
    """One server per distinct server configuration of an experiment's arms; arms map onto them."""

    def __init__(self, exp: Experiment, target: Target, opts: RunOptions, out: Path, progress: Progress,
                 schema: MigratedSchema) -> None:
        super().__init__()
        self.exp, self.target, self.opts, self.out, self.progress, self.schema = (
            exp, target, opts, out, progress, schema)
        self.by_arm: dict[str, ArmServer] = {}
        self._lock = threading.Lock()

    def _enter(self, srv: ServerProcess) -> ServerProcess:
        """Start ``srv`` and register it for teardown, whether or not the start succeeds."""
        with self._lock:
            self.callback(srv.stop)
        srv.start()
        return srv

    def start_services(self) -> dict[str, str]:
        """The experiment's companion services, shared by every arm; their URLs as app env."""
        env: dict[str, str] = {}
        for name, overrides in self.exp.services.items():
            srv, url_env = service_process(self.target, name, dict(overrides),
                                           self.out / "logs" / f"service-{name}.log")
            self.progress(f"[{self.exp.name}] starting service {name} ...")
            self._enter(srv)
            self.progress(f"[{self.exp.name}] service {name} at {srv.base_url} (pid {srv.pid})")
            env[url_env] = srv.base_url
        return env

    def _start_companions(self, n: int, names: tuple[str, ...], env: dict[str, str]) -> tuple[
            CompanionProcess, ...]:
        """The server's companion processes, with its env (same database, same queue)."""
        started = []
        for name in names:
            spec = self.target.processes[name]
            proc = CompanionProcess(name, self.target.command(spec.command),
                                    env=build_env({**env, **spec.env}, passthrough=tuple(self.target.env_passthrough)),
                                    cwd=self.target.app_dir, log_path=self.out / "logs" / f"process-{name}-s{n}.log")
            with self._lock:
                self.callback(proc.stop)
            proc.start()
            self.progress(f"[{self.exp.name}] process {name} started (pid {proc.pid}) next to server s{n}")
            started.append(proc)
        return tuple(started)

    def _start_one(self, n: int, key: ServerKey, arm_name: str, env: dict[str, str],
                   processes: tuple[str, ...] = ()) -> tuple[ServerProcess, dict[str, str], tuple[
                       CompanionProcess, ...]]:
        kind, workers, _ = key
        workdir = self.out / "servers" / f"s{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.schema.seed_workdir(workdir)
        env = {**base_server_env(self.target, self.opts, workdir, self.schema.token), **env}
        srv = ServerProcess(server_config(self.target, env, kind=kind, workers=workers),
                            log_path=self.out / "logs" / f"server-s{n}.log")
        self.progress(f"[{self.exp.name}] starting {kind} ({workers} worker(s)) for arm {arm_name} ...")
        self._enter(srv)
        companions = self._start_companions(n, processes, env)
        options = (run_setup(self.target, self.exp.setup, srv.base_url, self.opts.seed, srv.log_path)
                   if self.exp.setup else {})
        for proc in companions:
            proc.check()  # a worker that died on start-up (a bad broker URL) is an invalid run, now
        self.progress(f"[{self.exp.name}] {kind} ready at {srv.base_url} (pid {srv.pid}) for arm {arm_name}"
                      + (", set up" if self.exp.setup else ""))
        return srv, options, companions

    def check_urls(self) -> None:
        """Every URL arm must answer: called before anything is started (a server, Locust) for the run,
        so a dead URL is refused first; ``start_all`` calls it too, once."""
        for arm in self.exp.arms:
            if arm.url is not None and arm.name not in self.by_arm:
                check_url(arm.name, arm.url, remote_ok=self.opts.remote_target)
                self.by_arm[arm.name] = ArmServer(None, arm.url, {}, ("url", 1, {}))

    def start_all(self, *, concurrency: int = 4) -> None:
        """Migrate (once), then start every distinct server concurrently; raises the first failure."""
        self.check_urls()
        if all(a.url is not None for a in self.exp.arms):
            return
        self.schema.ensure(self.progress)
        services = self.start_services()
        default_server = self.opts.server or self.target.serve.kind
        default_workers = self.opts.workers or self.target.serve.workers
        key_by_arm = {arm.name: server_key(arm, default_server, default_workers, self.exp.app_env)
                      for arm in self.exp.arms if arm.url is None}
        first_arm: dict[ServerKey, str] = {}  # one server per key, named after the first arm using it
        processes: dict[ServerKey, tuple[str, ...]] = {}  # every arm's companions, once per server
        arms = {a.name: a for a in self.exp.arms}
        for name, key in key_by_arm.items():
            first_arm.setdefault(key, name)
            processes[key] = tuple(dict.fromkeys((*processes.get(key, ()), *arms[name].processes)))
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(first_arm)))) as pool:
            # key[2] is the server's app env: the experiment's, then the arm's
            futures = {key: pool.submit(self._start_one, n, key, name, {**services, **dict(key[2])},
                                        processes[key])
                       for n, (key, name) in enumerate(first_arm.items())}
            started = {key: f.result() for key, f in futures.items()}
        for name, key in key_by_arm.items():
            srv, options, companions = started[key]
            self.by_arm[name] = ArmServer(srv, srv.base_url, options, (key[0], key[1], dict(key[2])), companions)
