"""Cross-check of the io experiment with an independent load generator, wrk (Debian package).

``python -m tests.bench.wrk_io [--connections 200] [--io-ms 200] [--seconds 10] [--rounds 3]`` starts one
uvicorn server on the reference app (quiet settings, like the load runner's), drives
``/api/v1/lab/io-async?ms=M`` with wrk at C connections, and prints measured rps against the
Little's-law bound C / (M / 1000), per round and as a median, with wrk's and the server's CPU.
If wrk reaches the bound where Locust does not, the shortfall is the generator's, not the server's
(docs/load.md, "Where the async arm's missing share goes"). A benchmark, not a test: nothing runs it
by default.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from harness.server import HOST, free_port

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*")


def _server_env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "REFAPP_ACCESS_LOG": "false", "REFAPP_LOG_LEVEL": "WARNING",
            "REFAPP_OTEL_EXPORTER": "none", "REFAPP_JWT_SECRET": secrets.token_urlsafe(48),
            "REFAPP_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/refapp.db", "REFAPP_ENV": "test",
            "REFAPP_STORAGE_DIR": str(workdir / "files")}


def _wait_ready(url: str, proc: subprocess.Popen[bytes], attempts: int = 300) -> None:
    for _ in range(attempts):  # bounded: at most attempts x 0.1 s
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.wrk_io", description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--io-ms", type=int, default=200)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave the server a core)")
    args = p.parse_args(argv)
    if not 1 <= args.connections <= 2000 or not 1 <= args.seconds <= 120 or not 1 <= args.rounds <= 20:
        p.error("connections 1..2000, seconds 1..120, rounds 1..20")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    bound = args.connections / (args.io_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="wrk-io-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        # The schema is not needed: /lab/io-async touches no table, and Env.TEST creates it anyway.
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "reference_app.main:create_app", "--host", HOST,
             "--port", str(port), "--no-access-log"],
            env=_server_env(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://{HOST}:{port}"
            _wait_ready(f"{base}/health/live", server)
            target = f"{base}/api/v1/lab/io-async?ms={args.io_ms}"
            server_ps = psutil.Process(server.pid)
            rates: list[float] = []
            for i in range(args.rounds):
                server_ps.cpu_percent(None)
                run = subprocess.run([wrk,
                                      f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
                                      "--latency", target], capture_output=True, text=True, timeout=args.seconds + 60,
                                     check=False)
                server_cpu = server_ps.cpu_percent(None)
                match = _RPS.search(run.stdout)
                if run.returncode != 0 or match is None:
                    print(run.stdout, run.stderr, file=sys.stderr)
                    return 3
                rps = float(match.group(1))
                rates.append(rps)
                errors = [m.group(0) for m in _ERRORS.finditer(run.stdout)]
                print(f"round {i + 1}: {rps:8.1f} rps  measured/bound {rps / bound:.3f}  server CPU {server_cpu:5.1f}%"
                      + (f"  {'; '.join(errors)}" if errors else ""))
        finally:
            server.terminate()
            server.wait(timeout=30)
    median = statistics.median(rates)
    print(f"wrk {args.connections} connections, {args.io_ms} ms: median {median:.1f} rps, "
          f"bound {bound:.0f}, measured/bound {median / bound:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
