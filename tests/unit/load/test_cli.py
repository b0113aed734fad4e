"""``harness load`` argument handling (no load is generated here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import cli, exitcodes


def test_load_is_registered_with_its_flags() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["load", "run", "io", "--quick", "--aa", "--users", "5", "--round-seconds", "2",
                              "--rounds", "4", "--warmup", "0", "--processes", "2", "--seed", "9",
                              "--backend", "postgres", "--database-url", "postgresql+asyncpg://x/y",
                              "--redis-url", "redis://127.0.0.1:6379/0", "--server", "gunicorn",
                              "--workers", "3", "-o", "out-dir"])
    assert (args.profile, args.quick, args.aa, args.users, args.round_seconds, args.rounds) == (
        "io", True, True, 5, 2.0, 4)
    assert (args.warmup, args.processes, args.seed, args.backend, args.server, args.workers) == (
        0.0, 2, 9, "postgres", "gunicorn", 3)


def test_list_prints_experiments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["load", "list"]) == exitcodes.OK
    out = capsys.readouterr().out
    for name in ("io", "cache", "ratelimit", "middleware", "server", "journey"):
        assert f"  {name} " in out


@pytest.mark.parametrize("argv", [
    ["load", "run", "nope"],
    ["load", "run", "io", "--users", "0"],
    ["load", "run", "io", "--round-seconds", "0"],
    ["load", "run", "io", "--warmup", "-1"],
    ["load", "run", "io", "--duration", "60"],  # a soak's flag on an A/B experiment
    ["load", "run", "soak", "--duration", "0"],
    ["load", "run", "soak", "--sample-every", "-1"],
    ["load", "run", "soak", "--rounds", "3"],
    ["load", "run", "soak", "--quick", "--warmup", "500"],  # warm-up longer than the quick soak
])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == exitcodes.USAGE
    assert "harness: error:" in capsys.readouterr().err


def test_a_locustfile_with_a_syntax_error_is_exit_2_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text("from locust import HttpUser\n\nclass U(HttpUser:\n    pass\n")
    assert cli.main(["load", "run", "-f", str(locustfile), "--arm", "a=http://127.0.0.1:9"]) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert f"{locustfile}:3:" in err
    assert "syntax error" in err


def test_an_app_that_cannot_be_imported_is_exit_2_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locustfile = tmp_path / "ok.py"
    locustfile.write_text("from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n"
                          "        self.client.get('/')\n")
    code = cli.main(["load", "run", "-f", str(locustfile), "--app", "no_such_pkg_x.main:app", "--arm", "a",
                     "--arm", "b:X=1"])
    assert code == exitcodes.USAGE
    err = capsys.readouterr().err.strip()
    assert "No module named 'no_such_pkg_x'" in err
    assert len(err.splitlines()) == 1


def test_arms_need_a_locustfile_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["load", "run", "io", "--arm", "a=http://127.0.0.1:9"]) == exitcodes.USAGE
    assert cli.main(["load", "run"]) == exitcodes.USAGE
    assert cli.main(["load", "run", "-f", "/nonexistent/lf.py", "--arm", "a=http://127.0.0.1:9"]) == exitcodes.USAGE
    assert "no such locustfile" in capsys.readouterr().err



def test_report_table_renders_the_arms_and_the_verdict() -> None:
    import io as _io

    from rich.console import Console

    from load.cli import print_report, report_table
    from tests.utils.results_factory import make_results

    doc = make_results()
    for summary in doc["summary"].values():  # fields the runner adds and the reports factory leaves out
        summary.setdefault("generator_cpu_percent_max", 40.0)
        summary.setdefault("server_cpu_percent_median", 60.0)
    console = Console(file=_io.StringIO(), width=160, color_system=None)
    console.print(report_table(doc))
    rendered = console.file.getvalue()  # type: ignore[attr-defined]
    plain = _io.StringIO()
    print_report(doc, plain)
    for arm in doc["summary"]:
        assert arm in rendered
        assert arm in plain.getvalue()
    assert "validity: valid" in rendered or "validity: INVALID" in rendered
    assert "|" not in plain.getvalue()  # the plain form stays today's fixed-width text


@pytest.mark.parametrize(("flags", "progress_shown"), [([], True), (["-q"], False), (["-v"], True)])
def test_a_soak_honours_quiet(flags: list[str], progress_shown: bool, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from load import soak

    def run_soak(*args: object, progress: Any, **kwargs: object) -> dict[str, Any]:
        progress("[soak]     30s / 60s:   250 rps, p95 12 ms, server RSS 90 MB")
        return {"verdict": "pass"}

    monkeypatch.setattr(soak, "run_soak", run_soak)
    monkeypatch.setattr(soak, "print_soak", lambda doc: print(f"SUMMARY verdict {doc['verdict']}"))
    monkeypatch.setattr(soak, "exit_code", lambda doc: exitcodes.OK)
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli.main(["load", "run", "soak", "--quick", *flags]) == exitcodes.OK
    out = capsys.readouterr().out
    assert ("server RSS 90 MB" in out) is progress_shown
    assert "SUMMARY verdict pass" in out
