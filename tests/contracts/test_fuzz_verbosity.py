"""``harness contract fuzz -q/-v``: what each prints around schemathesis (here a stand-in process that
prints like it and exits with the code under test, so no server and no fuzzing are needed; the check
that ``--url`` answers is stubbed too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts import fuzz
from harness.cli import build_parser, main

SECRET = "s3cr3t-token"


@pytest.fixture
def schemathesis_exits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Every schemathesis argv; the process run instead prints a progress line and a report, then
    exits with the code in ``tmp_path / 'code'`` (default 0)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "openapi.json").write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                                                       "paths": {}}))
    seen: list[list[str]] = []
    real_run = subprocess.run

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(list(argv))
        code = (tmp_path / "code").read_text() if (tmp_path / "code").exists() else "0"
        script = f"print('PROGRESS 3/3 operations'); print('REPORT curl -X GET ...'); raise SystemExit({code})"
        return real_run([sys.executable, "-c", script], **kwargs)

    monkeypatch.setattr(fuzz.subprocess, "run", run)
    # No server either: the up-front check that --url answers (tests/examples, test_reach) is stubbed.
    monkeypatch.setattr(fuzz, "require_answer", lambda url, what: None)
    return seen


def fuzz_argv(tmp_path: Path, *flags: str) -> list[str]:
    return ["contract", "fuzz", "--url", "http://127.0.0.1:9", "--contract", "openapi.json",
            "-H", f"X-Token: {SECRET}", "--junit", str(tmp_path / "j.xml"), *flags]


def test_default_passes_schemathesis_output_through(schemathesis_exits: list[list[str]], tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    assert main(fuzz_argv(tmp_path)) == 0
    out, err = capfd.readouterr()
    assert "PROGRESS 3/3" in out
    assert "harness: running" not in err
    assert schemathesis_exits, "schemathesis was not run"


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_holds_back_the_progress_of_a_clean_run(flag: str, schemathesis_exits: list[list[str]], tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    assert main(fuzz_argv(tmp_path, flag)) == 0
    out, err = capfd.readouterr()
    assert "PROGRESS" not in out
    assert "REPORT" not in out
    assert "schemathesis exited 0" in err  # the result still says itself


def test_quiet_still_shows_the_report_of_a_failing_run(schemathesis_exits: list[list[str]], tmp_path: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "code").write_text("1")
    assert main(fuzz_argv(tmp_path, "-q")) == 1
    out, err = capfd.readouterr()
    assert "REPORT curl" in out  # the reproduction commands are the result
    assert "schemathesis exited 1" in err


def test_verbose_shows_the_command_with_header_values_masked(schemathesis_exits: list[list[str]], tmp_path: Path,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    assert main(fuzz_argv(tmp_path, "-v")) == 0
    out, err = capfd.readouterr()
    assert "PROGRESS 3/3" in out
    assert "harness: running" in err
    assert "'X-Token: ***'" in err
    assert SECRET not in err + out
    assert f"harness: config {fuzz.DEFAULT_CONFIG}" in err
    assert f"X-Token: {SECRET}" in schemathesis_exits[0]  # masked in the log only, sent as given


def test_quiet_and_verbose_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(fuzz_argv(tmp_path, "-q", "-v"))
