"""Flower, watching the jobs queue: ``python -m reference_app.flower [--port 5555]``.

Bound to 127.0.0.1 and behind basic auth, always: Flower can revoke and retry tasks. The credentials
come from ``REFAPP_FLOWER_BASIC_AUTH`` (``user:password``); unset, a random password is made and printed
once. They reach Flower through its own ``FLOWER_BASIC_AUTH`` variable, not argv, which ``ps`` shows.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_app.flower", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("REFAPP_FLOWER_PORT", "5555")))
    args = parser.parse_args(argv)
    auth = os.environ.get("REFAPP_FLOWER_BASIC_AUTH", "")
    if not auth:
        auth = f"admin:{secrets.token_urlsafe(18)}"
        print(f"flower: basic auth {auth} (set REFAPP_FLOWER_BASIC_AUTH to choose)", file=sys.stderr, flush=True)
    elif ":" not in auth:
        print("flower: REFAPP_FLOWER_BASIC_AUTH must be user:password", file=sys.stderr)
        return 2
    env = {**os.environ, "FLOWER_BASIC_AUTH": auth}
    argv_ = [sys.executable, "-m", "celery", "-A", "reference_app.worker", "flower",
             "--address=127.0.0.1", f"--port={args.port}"]
    os.execve(sys.executable, argv_, env)  # noqa: S606 - Flower replaces this process; signals reach it


if __name__ == "__main__":
    sys.exit(main())
