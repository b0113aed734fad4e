"""End to end: a tiny io experiment against the real reference app, results.json checked against
the schema. Excluded by default (``-m load`` to run): it starts servers and Locust processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from harness.server import ServerConfig, ServerProcess
from harness.target import load_target
from load.experiment import get_experiment
from load.runner import RunOptions, run_experiment
from load.schema import SCHEMA_PATH
from tests.utils.stub_asgi import write_stub_app

pytestmark = [pytest.mark.load, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _validate(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text()), validate_formats=True).validate(doc)
    return doc


def test_tiny_io_experiment(tmp_path: Path) -> None:
    lines: list[str] = []
    opts = RunOptions(users=10, rounds=2, round_seconds=1.5, warmup=0.5, output=tmp_path, seed=3)
    target = load_target(REPO)  # this repository's [tool.harness]: the reference app
    doc = run_experiment(get_experiment(target, "io"), target, opts, progress=lines.append)
    results = _validate(tmp_path / "results.json")
    assert results["run_id"] == doc["run_id"]
    assert [a["name"] for a in results["arms"]] == ["io_sync", "io_async"]
    measured = [r for r in results["rounds"] if not r["warmup"]]
    assert len(measured) == 4
    assert [r["arm"] for r in measured] == ["io_sync", "io_async", "io_async", "io_sync"]
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in measured)
    assert {a["bound"]["kind"] for a in results["arms"]} == {"thread_pool", "littles_law"}
    assert {c["metric"] for c in results["comparisons"]} == {"rps", "p95_ms", "p99_ms"}
    assert any("round 1/2" in line and "live" in line for line in lines)  # progress lines
    assert (tmp_path / "logs" / "server-s0.log").exists()


def test_cli_aa_with_two_locust_processes(tmp_path: Path) -> None:
    out = tmp_path / "aa"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "load", "run", "io", "--aa", "--users", "10", "--rounds", "2",
         "--round-seconds", "1", "--warmup", "0", "--processes", "2", "-o", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 3), proc.stderr[-2000:]  # 3: noisy machine or saturated, still a document
    results = _validate(out / "results.json")
    assert [a["name"] for a in results["arms"]] == ["io_async", "io_async_b"]
    assert results["config"]["processes"] == 2
    assert results["config"]["aa"] is True
    assert all(r["requests"] > 0 for r in results["rounds"])
    assert "io_async_b round 2/2" in proc.stdout


# A plain locustfile: no harness import, no counters, an on_start that takes a while.
PLAIN_LOCUSTFILE = """
import time
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0.01)

    def on_start(self):
        time.sleep(0.3)

    @task
    def root(self):
        self.client.get("/")
"""


def test_plain_locustfile_against_two_url_arms(tmp_path: Path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(PLAIN_LOCUSTFILE)
    cfg = ServerConfig(app=write_stub_app(tmp_path, "plainapp"), cwd=tmp_path, env={"STUB_BODY": "ok"}, ready_path="/",
                       ready_timeout_s=30)
    with ServerProcess(cfg, log_path=tmp_path / "a.log") as a, ServerProcess(cfg, log_path=tmp_path / "b.log") as b:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "load", "run", "-f", "locustfile.py", "--arm", f"a={a.base_url}",
             "--arm", f"b={b.base_url}", "--users", "5", "--rounds", "2", "--round-seconds", "1", "--warmup", "0",
             "-o", "out"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 3), proc.stdout[-2000:] + proc.stderr[-2000:]
    results = _validate(tmp_path / "out" / "results.json")
    assert [(x["name"], x["server"]) for x in results["arms"]] == [("a", "url"), ("b", "url")]
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in results["rounds"])
    assert any("unknown for URL arm" in note for note in results["validity"].get("notes", []))
