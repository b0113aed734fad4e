"""load.driver's PromptMasterRunner: still Locust's own MasterRunner.stop, and the one the driver uses.

Importing Locust monkey-patches the standard library, so the checks run in a child interpreter
(as the driver itself does) and report back one JSON line; no Locust process is started.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]

PROBE = textwrap.dedent('''
    import inspect, json, re, sys, textwrap

    from locust.runners import MasterRunner

    import load.driver as driver

    def source(fn):
        return textwrap.dedent(inspect.getsource(fn))

    ours = source(driver.PromptMasterRunner.stop)
    normalized = re.sub(r"  # type: ignore\\[[a-z-]+\\]$", "", ours, flags=re.M)
    normalized = normalized.replace("gevent.sleep(STOP_POLL_INTERVAL_S)", "gevent.sleep(1)")

    popen_envs = []

    class FakeWorker:
        pid = 0
        def __init__(self, cmd, env, **kwargs):
            popen_envs.append(env)
        def poll(self):
            return 0
        def wait(self, timeout=None):
            return 0

    driver.subprocess.Popen = FakeWorker
    driver.Driver._wait_workers_ready = lambda self, timeout: None
    d = driver.Driver({"profile": "load/profiles/hello.py", "processes": 2, "master_port": 0})
    try:
        facts = {
            "upstream": source(MasterRunner.stop),
            "ours": ours,
            "normalized": normalized,
            "poll_interval_s": driver.STOP_POLL_INTERVAL_S,
            "runner_class": type(d.runner).__name__,
            "env_runner_is_driver_runner": d.env.runner is d.runner,
            "report_intervals": [e["HARNESS_WORKER_REPORT_INTERVAL"] for e in popen_envs],
        }
    finally:
        d.close()
    import load.profiles._common  # what a worker imports with its profile
    from locust import argument_parser, runners
    facts["defaults_cached"] = hasattr(argument_parser.default_args_dict, "cache_info")
    facts["defaults_same_object"] = argument_parser.default_args_dict() is argument_parser.default_args_dict()
    facts["worker_calls_defaults_per_option"] = "argument_parser.default_args_dict()" in inspect.getsource(
        runners.WorkerRunner)
    print("PROBE " + json.dumps(facts))
''')


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE "))
    facts: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return facts


def test_override_is_upstream_stop_with_only_the_poll_interval_changed(probe: dict[str, Any]) -> None:
    """Fails when Locust's MasterRunner.stop changes: re-check (or drop) the copy in load/driver.py."""
    assert probe["upstream"].count("gevent.sleep(1)") == 1
    assert probe["ours"].count("gevent.sleep(STOP_POLL_INTERVAL_S)") == 1
    assert probe["normalized"] == probe["upstream"]


def test_poll_interval_is_well_below_a_second(probe: dict[str, Any]) -> None:
    assert 0 < probe["poll_interval_s"] <= 0.1


def test_driver_uses_the_prompt_master_for_several_processes(probe: dict[str, Any]) -> None:
    assert probe["runner_class"] == "PromptMasterRunner"
    assert probe["env_runner_is_driver_runner"]


def test_workers_report_every_quarter_second_by_default(probe: dict[str, Any]) -> None:
    assert probe["report_intervals"] == ["0.25", "0.25"]


def test_workers_compute_locusts_default_options_once(probe: dict[str, Any]) -> None:
    """The worker's spawn handler calls default_args_dict() per option; _common caches it. When
    Locust stops doing that, the cache is dead code: drop it from load/profiles/_common.py."""
    assert probe["worker_calls_defaults_per_option"]
    assert probe["defaults_cached"]
    assert probe["defaults_same_object"]
