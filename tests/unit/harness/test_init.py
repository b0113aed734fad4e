"""``harness init``'s closing message says what the starter locustfile measures and what is left to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.init import LOCUSTFILE, locustfile_summary

ONLY_PROTECTED = """\
from typing import Annotated

from fastapi import FastAPI, Header

app = FastAPI()


@app.get("/items/{item_id}")
def read(item_id: int, x_token: Annotated[str, Header()]) -> dict[str, int]:
    return {"id": item_id}


@app.post("/items")
def create(x_token: Annotated[str, Header()]) -> dict[str, int]:
    return {"id": 1}
"""


def test_summary_names_the_gets_it_calls() -> None:
    text = locustfile_summary(["/a", "/b"], ["POST /a"], written=True)
    assert "2 GET(s)" in text
    assert "/a, /b" in text
    assert "1 other operation(s)" in text


def test_summary_without_a_simple_get_says_what_the_locustfile_does_instead() -> None:
    text = locustfile_summary([], ["GET /items/{item_id}", "POST /items"], written=True)
    assert "calls 0" not in text
    assert "0 GET" not in text
    assert "/openapi.json" in text
    assert "Add tasks" in text
    assert "2 other operation(s)" in text


def test_summary_of_a_kept_locustfile_makes_no_claim_about_its_tasks() -> None:
    text = locustfile_summary(["/a"], [], written=False)
    assert "left as it is" in text
    assert "GET" not in text


def test_init_on_an_app_whose_every_operation_needs_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "svc.py").write_text(ONLY_PROTECTED)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--app", "svc:app"]) == 0
    out = capsys.readouterr().out
    assert "0 parameter-free" not in out, out
    assert "only fetches /openapi.json" in out, out
    locustfile = (tmp_path / LOCUSTFILE).read_text()
    assert 'self.client.get("/openapi.json")' in locustfile  # what the message says it does
    assert "#   POST /items" in locustfile
    assert "#   GET /items/{item_id}" in locustfile


def test_init_keeps_an_existing_locustfile_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "svc.py").write_text(ONLY_PROTECTED)
    (tmp_path / LOCUSTFILE).parent.mkdir()
    (tmp_path / LOCUSTFILE).write_text("# the team's own\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--app", "svc:app"]) == 0
    out = capsys.readouterr().out
    assert "left as it is" in out, out
    assert "only fetches" not in out, out
    assert (tmp_path / LOCUSTFILE).read_text() == "# the team's own\n"
