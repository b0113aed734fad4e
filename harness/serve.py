"""``harness serve``: migrate, then run the reference app under uvicorn or gunicorn.

Loopback by default: exposing the app beyond this machine is a deliberate ``--host`` choice.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness import exitcodes
from harness.server import DEFAULT_MIGRATE_CMD

GUNICORN_CONF = Path(__file__).resolve().parent.parent / "reference_app" / "gunicorn.conf.py"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the reference app (embedded SQLite + in-memory cache unless REFAPP_* says otherwise)",
        description="Apply Alembic migrations, then serve the reference app. Configuration is read from "
        "REFAPP_* environment variables (see README).",
    )
    p.add_argument("--server", choices=("uvicorn", "gunicorn"), default="uvicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--no-migrate", action="store_true", help="skip `alembic upgrade head`")
    p.add_argument("--log-level", default="info")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise exitcodes.HarnessError("--workers must be at least 1")
    env = os.environ.copy()
    if args.server == "gunicorn":
        env["REFAPP_MIGRATE_ON_START"] = "false" if args.no_migrate else "true"
        argv = [
            sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
            "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers), "--log-level", args.log_level,
        ]
    else:
        if not args.no_migrate:
            # A subprocess, not an import: the harness drives the app through its public entry points.
            done = subprocess.run([sys.executable, *DEFAULT_MIGRATE_CMD], check=False)
            if done.returncode != 0:
                raise exitcodes.HarnessError("migrations failed (see above)", exitcodes.INVALID_RUN)
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "reference_app.main:create_app",
            "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
            "--log-level", args.log_level, "--no-access-log",
        ]
    print(f"harness: serving on http://{args.host}:{args.port} ({args.server}, {args.workers} worker(s))",
          file=sys.stderr, flush=True)
    # exec: signals (Ctrl-C, SIGTERM from CI) reach the server directly, with no wrapper to orphan it.
    os.execve(sys.executable, argv, env)
