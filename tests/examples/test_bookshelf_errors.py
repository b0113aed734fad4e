"""Bad input on a third-party service gets a clear error and the documented exit code, never a silent
wrong answer (issue 11): each case runs the real CLI from a temporary copy of examples/bookshelf."""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.support import (
    APP,
    DELETE_ROUTE_DECORATOR,
    REPO,
    Harness,
    Servers,
    read_json,
    replace_once,
    server_env,
)

pytestmark = pytest.mark.slow

LOAD_FLAGS = ("--quick", "--users", "2", "--rounds", "2", "--round-seconds", "1", "--warmup", "0")


def _error_lines(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback URL where nothing answers: the port is held (bound, not listening), so nobody else
    can take it for the test's duration, and connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def live_url(bookshelf: Path, servers: Servers, tmp_path: Path) -> str:
    return servers.start(bookshelf, server_env(tmp_path / "live.db"))


def test_update_refuses_a_foreign_contract(bookshelf: Path, harness: Harness) -> None:
    """The reported bug: --update in a team's repo overwrote their contract with another app's schema."""
    foreign = bookshelf / "contracts" / "openapi.json"
    foreign.parent.mkdir()
    shutil.copyfile(REPO / "contracts" / "openapi.json", foreign)  # the reference app's: no shared operation
    before = foreign.read_bytes()
    done = harness("contract", "check", "--app", APP, "--contract", "contracts/openapi.json", "--update")
    assert done.returncode == 2, done.explain()
    assert "--force" in done.stderr, done.explain()  # the refusal says how to override it
    assert "Traceback" not in done.output
    assert foreign.read_bytes() == before, "the refused --update still changed the file"


def test_update_rewrites_the_same_apps_contract(bookshelf: Path, harness: Harness) -> None:
    """The other side of the refusal: a stale contract of this very app is updated (a route removed)."""
    assert harness("contract", "export", "--app", APP, "-o", "openapi.json").returncode == 0
    replace_once(bookshelf / "bookshelf" / "app.py", DELETE_ROUTE_DECORATOR, "# " + DELETE_ROUTE_DECORATOR)
    done = harness("contract", "check", "--app", APP, "--contract", "openapi.json", "--update")
    assert done.returncode == 0, done.explain()
    paths = read_json(bookshelf / "openapi.json")["paths"]
    assert "delete" not in paths["/api/books/{book_id}"]
    assert "get" in paths["/api/books/{book_id}"]


def test_relative_contract_is_resolved_from_the_cwd(bookshelf: Path, harness: Harness, live_url: str) -> None:
    # -o and --contract, both relative: the file is written and read in the cwd. Had --contract been
    # resolved inside the harness's install, check would compare with the reference app's contract.
    done = harness("contract", "export", "--app", APP, "-o", "api/openapi.json")
    assert done.returncode == 0, done.explain()
    assert (bookshelf / "api" / "openapi.json").is_file()
    done = harness("contract", "check", "--app", APP, "--contract", "api/openapi.json")
    assert done.returncode == 0, done.explain()

    # From a sub-directory, the same file is ../api/openapi.json.
    sub = bookshelf / "sub"
    sub.mkdir()
    done = harness("contract", "check", "--app", APP, "--app-dir", "..", "--contract", "../api/openapi.json", cwd=sub)
    assert done.returncode == 0, done.explain()

    # contracts/openapi.json exists in the harness's own repository but not here: a usage error naming
    # the missing file, for check and for fuzz (the reported bug fuzzed the reference contract, exit 0).
    for args in (("contract", "check", "--app", APP), ("contract", "fuzz", "--url", live_url, "--max-examples", "1")):
        done = harness(*args, "--contract", "contracts/openapi.json")
        assert done.returncode == 2, done.explain()
        assert "contracts/openapi.json" in done.stderr, done.explain()


def test_url_arm_that_does_not_answer(harness: Harness, live_url: str, dead_url: str, tmp_path: Path) -> None:
    done = harness(
        "load",
        "run",
        "-f",
        "locustfile.py",
        "--arm",
        f"a={live_url}",
        "--arm",
        f"b={dead_url}",
        *LOAD_FLAGS,
        "-o",
        str(tmp_path / "out"),
    )
    assert done.returncode == 3, done.explain()
    assert dead_url in done.stderr, done.explain()
    assert "Traceback" not in done.output
    # Checked first, then started: no Locust process for a run that can't happen.
    assert "starting Locust" not in done.output, done.explain()
    results = tmp_path / "out" / "results.json"
    assert not results.exists() or read_json(results)["validity"]["valid"] is False


@pytest.mark.parametrize("form", ["url-arms", "env-arms"])
def test_locustfile_with_a_syntax_error(
    bookshelf: Path, harness: Harness, servers: Servers, tmp_path: Path, form: str
) -> None:
    broken = bookshelf / "broken_locustfile.py"
    broken.write_text("from locust import HttpUser, task\n\n\nclass Reader(HttpUser)\n    pass\n")  # line 4
    arms: tuple[str, ...]
    if form == "url-arms":
        url = servers.start(bookshelf, server_env(tmp_path / "live.db"))
        arms = ("--arm", f"a={url}", "--arm", f"b={url}")
    else:
        arms = ("--app", APP, "--arm", "a:BOOKSHELF_JOURNAL_MODE=wal", "--arm", "b:BOOKSHELF_JOURNAL_MODE=delete")
    done = harness("load", "run", "-f", "broken_locustfile.py", *arms, *LOAD_FLAGS, "-o", str(tmp_path / "out"))
    assert done.returncode == 2, done.explain()
    assert re.search(r"broken_locustfile\.py\b.*\b(line )?4\b", done.stderr), done.explain()
    assert "Traceback" not in done.output


BROKEN_APP = "import os\n\nraise RuntimeError('BROKEN_DB_URL is not set')\napp = None\n"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("bookshelf.nope:app", "No module named 'bookshelf.nope'"),
        ("broken_app:app", "BROKEN_DB_URL is not set"),
        ("bookshelf.app:application", "application"),
    ],
    ids=["missing-module", "raises-on-import", "missing-attribute"],
)
def test_app_that_cannot_be_imported_export(bookshelf: Path, harness: Harness, spec: str, needle: str) -> None:
    (bookshelf / "broken_app.py").write_text(BROKEN_APP)
    done = harness("contract", "export", "--app", spec, "-o", "openapi.json")
    assert done.returncode == 2, done.explain()
    assert len(_error_lines(done.stderr, needle)) == 1, done.explain()
    assert "Traceback" not in done.output
    assert not (bookshelf / "openapi.json").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("contract", "check", "--contract", "openapi.json"),
        ("contract", "fuzz", "--contract", "openapi.json", "--max-examples", "1"),
        ("load", "run", "-f", "locustfile.py", "--arm", "a", "--arm", "b", *LOAD_FLAGS),
    ],
    ids=["check", "fuzz", "load"],
)
def test_app_that_cannot_be_imported_other_commands(harness: Harness, command: tuple[str, ...]) -> None:
    """Commands that serve the app must fail as early and as plainly as export, not as a dead server."""
    assert harness("contract", "export", "--app", APP, "-o", "openapi.json").returncode == 0
    done = harness(*command, "--app", "bookshelf.nope:app")
    assert done.returncode == 2, done.explain()
    assert len(_error_lines(done.stderr, "No module named 'bookshelf.nope'")) == 1, done.explain()
    assert "Traceback" not in done.output


def test_fuzz_url_that_does_not_answer(harness: Harness, dead_url: str, tmp_path: Path) -> None:
    """A service that is down is a set-up failure (exit 3), not a contract failure found (exit 1)."""
    assert harness("contract", "export", "--app", APP, "-o", "openapi.json").returncode == 0
    junit = tmp_path / "fuzz.xml"
    args = ("--url", dead_url, "--contract", "openapi.json", "--max-examples", "1", "--junit", str(junit))
    done = harness("contract", "fuzz", *args)
    assert done.returncode == 3, done.explain()
    assert dead_url in done.stderr, done.explain()
    # Refused up front, in one line: schemathesis never ran (no phase, no JUnit file).
    assert len(_error_lines(done.stderr, dead_url)) == 1, done.explain()
    assert "schemathesis exited" not in done.stderr, done.explain()
    assert not junit.exists(), done.explain()
    assert "Traceback" not in done.output


def test_fuzz_schema_url_that_does_not_answer(harness: Harness, live_url: str, dead_url: str) -> None:
    """The service answers but the --schema URL does not: refused the same way, naming that URL."""
    schema = f"{dead_url}/openapi.json"
    done = harness("contract", "fuzz", "--url", live_url, "--schema", schema, "--max-examples", "1")
    assert done.returncode == 3, done.explain()
    assert len(_error_lines(done.stderr, schema)) == 1, done.explain()
    assert "schemathesis exited" not in done.stderr, done.explain()


BROKEN_LIFESPAN_APP = """\
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app: FastAPI):
    raise RuntimeError("BROKEN_LIFESPAN: the database is not there")
    yield


app = FastAPI(lifespan=lifespan)
"""


def test_fuzz_app_that_does_not_start(bookshelf: Path, harness: Harness) -> None:
    """--app: an app that imports but never becomes ready is a set-up failure too (exit 3), not a fuzz run."""
    (bookshelf / "broken_lifespan.py").write_text(BROKEN_LIFESPAN_APP)
    done = harness("contract", "fuzz", "--app", "broken_lifespan:app", "--max-examples", "1")
    assert done.returncode == 3, done.explain()
    assert "BROKEN_LIFESPAN" in done.stderr, done.explain()  # the log's tail says why
    assert "schemathesis exited" not in done.stderr, done.explain()
