"""A missing optional dependency is one line naming the extra, never a traceback."""

from __future__ import annotations

import argparse

import pytest

from harness import cli, exitcodes


def _raising(module: str) -> argparse.Namespace:
    def handler(_args: argparse.Namespace) -> int:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    return argparse.Namespace(handler=handler, command="run")


@pytest.mark.parametrize(("module", "extra"), [("locust", "load"), ("schemathesis", "fuzz"),
                                                ("matplotlib.pyplot", "load"), ("uvicorn_worker", "gunicorn")])
def test_missing_optional_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], module: str,
                                                     extra: str) -> None:
    parser = cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: _raising(module))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["run"]) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"pip install 'fastapi-harness[{extra}]'" in err


def test_a_missing_module_that_is_no_extra_is_still_one_line(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: _raising("no_such_module_xyz"))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["run"]) == exitcodes.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no_such_module_xyz" in err


def test_require_raises_for_an_absent_module() -> None:
    cli.require("json")
    with pytest.raises(ModuleNotFoundError) as err:
        cli.require("no_such_module_xyz")
    assert err.value.name == "no_such_module_xyz"


def test_building_the_parser_leaves_the_heavy_libraries_unimported() -> None:
    """Every `harness` command builds the whole parser; the suite and CI start it a hundred times or more.
    openapi-spec-validator and httpx (with rich) are imported where they are used, not at start-up."""
    import subprocess
    import sys

    heavy = ("openapi_spec_validator", "httpx", "locust", "schemathesis")
    code = ("import sys; from harness.cli import build_parser; build_parser(); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
