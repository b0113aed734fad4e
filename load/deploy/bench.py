"""Generator throughput with 1 and 2 remote workers, and the master's own CPU (docs/load.md).

    python load/deploy/bench.py [--rounds 3] [--round-seconds 5] [--users 40]

A script, not a timed test: it runs ``harness load run hello`` (the default target's ``hello``
experiment: for the built-in target, /lab/hello on one bare uvicorn worker) three ways, each with
``harness load worker`` processes on this machine: a local single-process run for reference, then
with 1 and 2 remote workers. It
prints one Markdown table row per set-up from the results.json files. On a shared 2-core machine
the server and the workers compete for the same cores: read the figures as indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def run(workers: int, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    base = harness("load", "run", "hello", "--rounds", str(args.rounds), "--round-seconds", str(args.round_seconds),
                   "--warmup", "2", "--users", str(args.users), "-o", str(out))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if workers:
            port = free_port()
            base += ["--master-bind", f"127.0.0.1:{port}", "--expect-workers", str(workers), "--worker-timeout", "120"]
            procs = [subprocess.Popen(harness("load", "worker", "--master", f"127.0.0.1:{port}"), cwd=REPO,  # noqa: S603
                                      start_new_session=True) for _ in range(workers)]
        subprocess.run(base, cwd=REPO, check=False, timeout=900)  # noqa: S603
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)
    doc: dict[str, Any] = json.loads((out / "results.json").read_text())
    return doc


def row(label: str, doc: dict[str, Any]) -> str:
    rounds = [r for r in doc["rounds"] if not r["warmup"] and not r.get("excluded")]
    rps = median(r["rps"] for r in rounds)
    master = median(max(map(float, r["generator_cpu_by_pid"].values()), default=0.0) for r in rounds)
    workers = [median(w["cpu_percent"] or 0.0 for w in r["workers"].values()) for r in rounds if "workers" in r]
    server = median(r["server_cpu_percent"] for r in rounds)
    other = median(r["other_cpu_percent"] for r in rounds)
    worker_cpu = f"{median(workers):.0f}%" if workers else "-"
    return (f"| {label} | {rps:.0f} | {median(r['p95_ms'] or 0 for r in rounds):.0f} | {master:.1f}% | "
            f"{worker_cpu} | {server:.0f}% | {other:.0f}% |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        rows = [row(label, run(n, Path(tmp) / label.replace(" ", "_"), args))
                for label, n in (("local, 1 process", 0), ("1 remote worker", 1), ("2 remote workers", 2))]
    print("| set-up | rps (median) | p95 ms | master/driver CPU | CPU per worker | server CPU | other CPU |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
