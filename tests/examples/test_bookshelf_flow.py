"""The whole flow of issue 11 on a service the harness has never seen: examples/bookshelf.

In a temporary copy of the example, from that copy's directory, the real ``harness`` CLI runs
init -> contract export/check -> fuzz -> load (two URL arms, then two env arms) -> gate -> report,
and each step is judged by its exit code *and* by what it wrote or said.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.examples.support import (
    APP,
    DELETE_ROUTE_DECORATOR,
    PLANTED_ENDPOINT,
    REPO,
    TOKEN,
    TOKEN_HEADER,
    Done,
    Harness,
    Servers,
    fix_planted_bug,
    read_json,
    replace_once,
    server_env,
)

pytestmark = pytest.mark.slow

RESULTS_SCHEMA = REPO / "load" / "results.schema.json"
# Bounded load: a handful of users for a few seconds per round. The flow is about wiring, not figures.
LOAD_FLAGS = ("--quick", "--users", "4", "--rounds", "2", "--round-seconds", "1", "--warmup", "0")
FUZZ_FLAGS = ("-H", TOKEN_HEADER, "--max-examples", "5")
EXPECTED_OPERATIONS = {
    ("get", "/api/books"),
    ("post", "/api/books"),
    ("get", "/api/books/{book_id}"),
    ("delete", "/api/books/{book_id}"),
    ("get", "/api/shelf/reading-plan"),
}


def _ok(done: Done, code: int = 0) -> Done:
    assert done.returncode == code, done.explain()
    return done


def _operations(contract: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in contract["paths"].items() for method in item if method != "parameters"}


def _junit_cases(path: Path) -> dict[str, bool]:
    """schemathesis's JUnit report: operation ("GET /path", "Stateful tests") -> whether it failed."""
    root = ET.parse(path).getroot()  # noqa: S314 - a file the run under test just wrote
    return {
        case.get("name", ""): case.find("failure") is not None or case.find("error") is not None
        for case in root.iter("testcase")
    }


def _check_results(done: Done, out: Path, arms: list[str]) -> dict[str, Any]:
    """results.json is schema-valid, has interleaved measured rounds with traffic and no errors, and
    the exit code says what its validity says."""
    doc: dict[str, Any] = read_json(out / "results.json")
    jsonschema_rs.validator_for(json.loads(RESULTS_SCHEMA.read_text()), validate_formats=True).validate(doc)
    assert [a["name"] for a in doc["arms"]] == arms, done.explain()
    measured = sorted((r for r in doc["rounds"] if not r["warmup"]), key=lambda r: r["index"])
    assert [r["arm"] for r in measured].count(arms[0]) == 2, measured
    assert [r["arm"] for r in measured].count(arms[1]) == 2, measured
    assert {measured[0]["arm"], measured[1]["arm"]} == set(arms), "rounds are not interleaved"
    assert all(r["requests"] > 0 for r in measured), measured
    assert all(r["errors"] == 0 for r in measured), measured
    assert "rps" in {c["metric"] for c in doc["comparisons"]}
    assert done.returncode == (0 if doc["validity"]["valid"] else 3), done.explain()
    return doc


def _exit(doc: dict[str, Any], when_valid: int) -> int:
    """A gate's exit code: what the gates say, unless the run was invalid (exit 3 whatever the gates)."""
    return when_valid if doc["validity"]["valid"] else 3


def _locust_books(url: str) -> int:
    """Books the locustfile's users added on this server (each user adds one in on_start)."""
    books = httpx.get(f"{url}/api/books", params={"limit": 100}, headers={"X-Token": TOKEN}, timeout=10).json()
    return sum(1 for b in books if b["author"] == "Locust")


def _journal_is_wal(db: Path) -> bool:
    # SQLite header bytes 18-19 are the file format versions: 2 in WAL mode, 1 in rollback-journal mode.
    return db.read_bytes()[18] == 2


def _gates(path: Path, profile: str, *, failing: bool) -> Path:
    gates = f"""version = 1

[[gate]]
name = "bookshelf: no errors"
kind = "absolute"
profile = "{profile}"
expr = "error_rate < 1%"
"""
    if failing:
        gates += f"""
[[gate]]
name = "bookshelf: a throughput no laptop reaches"
kind = "absolute"
profile = "{profile}"
arm = "a"
expr = "rps >= 1000000"
"""
    path.write_text(gates)
    return path


def test_bookshelf_flow(bookshelf: Path, harness: Harness, servers: Servers, tmp_path: Path) -> None:
    app_py = bookshelf / "bookshelf" / "app.py"
    locustfile = bookshelf / "locustfile.py"
    locustfile_before = locustfile.read_text()

    # init: writes [tool.harness] into the app's own pyproject.toml and exports the contract.
    init = _ok(harness("init", "--app", APP))
    config = tomllib.loads((bookshelf / "pyproject.toml").read_text())["tool"]["harness"]
    assert config["app"] == APP
    assert tomllib.loads((bookshelf / "pyproject.toml").read_text())["project"]["name"] == "bookshelf"
    contract_path = bookshelf / config.get("contract", "contracts/openapi.json")
    assert _operations(read_json(contract_path)) == EXPECTED_OPERATIONS
    assert (bookshelf / config.get("gates", "gates.toml")).is_file(), init.explain()
    assert locustfile.read_text() == locustfile_before, "init overwrote the team's own locustfile"
    starters = [bookshelf / e["locustfile"] for e in config.get("experiments", {}).values()]
    assert starters, "init configured no experiment"
    assert all(p.is_file() for p in starters), starters
    assert len(re.findall(r"harness (?:contract|load|gate|run)\b", init.stdout)) >= 2, init.explain()

    # export: the live app's schema, wherever -o says (relative to the cwd).
    _ok(harness("contract", "export", "--app", APP, "-o", "exported/openapi.json"))
    exported = read_json(bookshelf / "exported" / "openapi.json")
    assert _operations(exported) == EXPECTED_OPERATIONS
    assert "/health" not in exported["paths"]
    schemes = exported["components"]["securitySchemes"].values()
    assert any(s.get("in") == "header" and s.get("name") == "X-Token" for s in schemes)

    # check: passes on the committed contract, fails (exit 1) once a route is removed, naming it.
    _ok(harness("contract", "check", "--app", APP))
    source = app_py.read_text()
    replace_once(app_py, DELETE_ROUTE_DECORATOR, "# route removed by the test: " + DELETE_ROUTE_DECORATOR)
    broken = _ok(harness("contract", "check", "--app", APP), 1)
    assert "/api/books/{book_id}" in broken.output, broken.explain()
    assert re.search(r"delete", broken.output, re.I), broken.explain()
    app_py.write_text(source)

    # fuzz: finds the planted 500, names the endpoint, prints a reproduction; passes once fixed.
    junit = tmp_path / "fuzz-planted.xml"
    found = _ok(harness("contract", "fuzz", "--app", APP, *FUZZ_FLAGS, "--junit", str(junit)), 1)
    assert PLANTED_ENDPOINT in found.output, found.explain()
    assert "pages_per_day=0" in found.output, found.explain()
    assert "curl" in found.output, found.explain()  # a command that reproduces the failure
    # Only the planted operation fails (a stateful sequence may run into it too): the rest is clean.
    failed_cases = {name for name, failed in _junit_cases(junit).items() if failed}
    assert f"GET {PLANTED_ENDPOINT}" in failed_cases, found.explain()
    assert failed_cases <= {f"GET {PLANTED_ENDPOINT}", "Stateful tests"}, found.explain()
    fix_planted_bug(bookshelf)
    junit = tmp_path / "fuzz-fixed.xml"
    clean = _ok(harness("contract", "fuzz", "--app", APP, *FUZZ_FLAGS, "--junit", str(junit)))
    cases = _junit_cases(junit)
    assert {f"{m.upper()} {path}" for m, path in EXPECTED_OPERATIONS} <= cases.keys(), clean.explain()
    assert not any(cases.values()), clean.explain()

    # load against two running services (URL arms): the team's plain locustfile, unchanged.
    url_a = servers.start(bookshelf, server_env(tmp_path / "url-a.db"))
    url_b = servers.start(bookshelf, server_env(tmp_path / "url-b.db"))
    urls_out = tmp_path / "out" / "urls"
    arms = ("--arm", f"a={url_a}", "--arm", f"b={url_b}")
    done = harness("load", "run", "-f", "locustfile.py", *arms, *LOAD_FLAGS, "-o", str(urls_out))
    urls_doc = _check_results(done, urls_out, ["a", "b"])
    assert _locust_books(url_a) > 0, "the load did not reach URL arm a"
    assert _locust_books(url_b) > 0, "the load did not reach URL arm b"
    assert locustfile.read_text() == locustfile_before

    # load with servers the harness starts, one per arm, differing only in their environment.
    db_a, db_b = tmp_path / "env-a.db", tmp_path / "env-b.db"
    env_out = tmp_path / "out" / "env"
    arms = (
        "--arm", f"a:BOOKSHELF_DB={db_a},BOOKSHELF_JOURNAL_MODE=wal",
        "--arm", f"b:BOOKSHELF_DB={db_b},BOOKSHELF_JOURNAL_MODE=delete",
    )  # fmt: skip
    done = harness("load", "run", "-f", "locustfile.py", "--app", APP, *arms, *LOAD_FLAGS, "-o", str(env_out))
    env_doc = _check_results(done, env_out, ["a", "b"])
    # Each arm's server got its own environment: its own file, in its own journal mode.
    assert db_a.is_file(), done.explain()
    assert db_b.is_file(), done.explain()
    assert _journal_is_wal(db_a)
    assert not _journal_is_wal(db_b)

    # gate: passes on what holds, fails (exit 1) on what doesn't; an invalid run is exit 3 either way.
    passing = _gates(urls_out / "pass.toml", urls_doc["profile"], failing=False)
    gate = _ok(harness("gate", str(urls_out / "results.json"), "--gates", str(passing)), _exit(urls_doc, 0))
    assert re.search(r"PASS\s+bookshelf: no errors", gate.stdout), gate.explain()
    failing = _gates(env_out / "fail.toml", env_doc["profile"], failing=True)
    gate = _ok(harness("gate", str(env_out / "results.json"), "--gates", str(failing)), _exit(env_doc, 1))
    assert re.search(r"FAIL\s+bookshelf: a throughput no laptop reaches", gate.stdout), gate.explain()

    # The starter gates.toml that init wrote is a valid gates file for these results.
    starter = harness("gate", str(urls_out / "results.json"), "--gates", config.get("gates", "gates.toml"))
    assert starter.returncode in (0, 1, 3), starter.explain()

    # report: the HTML and Markdown reports, with the arms and the gate outcome in them.
    report_dir = tmp_path / "report"
    report = _ok(
        harness("report", str(urls_out / "results.json"), "--gates", str(passing), "-o", str(report_dir)),
        _exit(urls_doc, 0),
    )
    summary = (report_dir / "summary.md").read_text()
    assert urls_doc["profile"] in summary, report.explain()
    assert "bookshelf: no errors" in summary, report.explain()
    assert (report_dir / "index.html").stat().st_size > 0
