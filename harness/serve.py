"""``harness serve``: migrate, then run the target's app under uvicorn, gunicorn or its own command.

The app as configured (``[tool.harness]`` or ``--app``), in the caller's environment (that is the
service's configuration, as in production), with the target's ``migrate`` command run first.
Loopback by default: exposing the app beyond this machine is a deliberate ``--host`` choice.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import exitcodes
from harness.companion import CompanionProcess
from harness.server import ServerConfig
from harness.target import Target, add_target_arguments, target_from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the target's app (the configured one, or --app) after its migrate command",
        description="Run the target's migrate command (if any), then serve its app. The app reads its "
        "configuration from the caller's environment, as it would in production.",
    )
    p.add_argument("--server", choices=("uvicorn", "gunicorn", "command"), default=None,
                   help="default: the configured serve.kind (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--no-migrate", action="store_true", help="skip the target's migrate command")
    p.add_argument("--log-level", default="info")
    p.add_argument("--with-worker", action="store_true",
                   help="also start the target's companion processes (serve.processes, default every "
                   "[tool.harness.processes] entry: a queue worker, its monitor); all are stopped on exit")
    add_target_arguments(p)
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise exitcodes.HarnessError("--workers must be at least 1")
    target = target_from_args(args)
    kind = args.server or target.serve.kind
    if not args.no_migrate and target.migrate:
        # A subprocess, not an import: the harness drives the app through its public entry points.
        done = subprocess.run(target.command(target.migrate), cwd=target.app_dir, check=False)
        if done.returncode != 0:
            raise exitcodes.HarnessError("migrations failed (see above)", exitcodes.INVALID_RUN)
    config = ServerConfig(app=target.require_app(), server=kind, workers=args.workers if kind == "gunicorn" else 1,
                          factory=target.factory, command_template=target.serve.command,
                          gunicorn_conf=str(target.serve.gunicorn_conf) if target.serve.gunicorn_conf else None,
                          cwd=target.app_dir, python=target.python)
    argv = config.command(args.port, host=args.host)
    if kind == "uvicorn":
        argv[argv.index("--workers") + 1] = str(args.workers)
        argv += ["--log-level", args.log_level]
    elif kind == "gunicorn":
        argv += ["--log-level", args.log_level]
    print(f"harness: serving {target.app} on http://{args.host}:{args.port} ({kind}, {args.workers} worker(s))",
          file=sys.stderr, flush=True)
    if args.with_worker:
        return _serve_with_companions(target, argv)
    os.chdir(target.app_dir)
    # exec: signals (Ctrl-C, SIGTERM from CI) reach the server directly, with no wrapper to orphan it.
    os.execve(argv[0], argv, os.environ.copy())


def _serve_with_companions(target: Target, argv: list[str]) -> int:
    """The server and its companions as children; the first to exit, Ctrl-C or SIGTERM stops them all."""
    names = target.serve.processes if target.serve.processes is not None else list(target.processes)
    if not names:
        raise exitcodes.HarnessError("--with-worker: the target declares no [tool.harness.processes]")
    logs = Path(tempfile.mkdtemp(prefix="harness-serve-"))
    procs = [CompanionProcess("server", argv, env=os.environ.copy(), cwd=target.app_dir, log_path=logs / "server.log")]
    for name in names:
        spec = target.processes[name]
        procs.append(CompanionProcess(name, target.command(spec.command), env={**os.environ, **spec.env},
                                      cwd=target.app_dir, log_path=logs / f"{name}.log"))

    stopping: list[int] = []

    def _stop(signum: int, _frame: object) -> None:
        # A flag, not KeyboardInterrupt: an exception between fork and bookkeeping would orphan a child.
        stopping.append(signum)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for proc in procs:
            if stopping:
                break
            proc.start()
            print(f"harness: started {proc.name} (pid {proc.pid}), log {proc.log_path}", file=sys.stderr, flush=True)
        while not stopping and all(p.alive() for p in procs):
            time.sleep(0.2)
        if stopping:
            print("harness: stopping", file=sys.stderr, flush=True)
            return 0
        gone = next(p for p in procs if not p.alive())
        print(f"harness: {gone.name} exited with {gone.returncode()}; stopping the others (log {gone.log_path})",
              file=sys.stderr, flush=True)
        return exitcodes.INVALID_RUN
    finally:
        for proc in reversed(procs):
            proc.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
