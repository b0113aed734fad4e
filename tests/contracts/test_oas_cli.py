"""``harness contract export|check|diff`` through ``harness.cli.main``: output and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts import live
from harness.exitcodes import GATE_FAILED, OK, USAGE
from tests.contracts.openapi_docs import RESP, edit, item_schema, ref, response_doc

Main = Callable[[list[str]], int]
OLD = response_doc(ref("Item"), schemas={"Item": item_schema()})


def _write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _breaking_pair(tmp_path: Path) -> tuple[str, str]:
    new = edit(OLD)
    del new["components"]["schemas"]["Item"]["properties"]["name"]
    return _write(tmp_path / "old.json", OLD), _write(tmp_path / "new.json", new)


# diff -----------------------------------------------------------------------------------------


def test_diff_exits_1_on_a_breaking_change(
    harness_main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _breaking_pair(tmp_path)
    assert harness_main(["contract", "diff", old, new]) == GATE_FAILED
    out = capsys.readouterr().out
    assert "BREAKING  response-property-removed  [GET /items]" in out
    assert "response field 'name' was removed" in out


def test_diff_exits_0_on_non_breaking_changes(harness_main: Main, tmp_path: Path) -> None:
    new = edit(OLD)
    new["components"]["schemas"]["Item"]["properties"]["sku"] = {"type": "string"}
    assert harness_main(["contract", "diff", _write(tmp_path / "a.json", OLD), _write(tmp_path / "b.json", new)]) == OK


def test_diff_with_allowlist_exits_0(harness_main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _breaking_pair(tmp_path)
    allow = tmp_path / "allow.toml"
    allow.write_text(
        '[[accept]]\nrule = "response-property-removed"\n'
        'pointer = "/components/schemas/Item/properties/name"\nreason = "renamed in v2, clients migrated"\n'
    )
    assert harness_main(["contract", "diff", old, new, "--allowlist", str(allow)]) == OK
    assert "accepted: renamed in v2, clients migrated" in capsys.readouterr().out


def test_diff_markdown_and_json_to_a_file(harness_main: Main, tmp_path: Path) -> None:
    old, new = _breaking_pair(tmp_path)
    md, js = tmp_path / "out" / "report.md", tmp_path / "report.json"
    assert harness_main(["contract", "diff", old, new, "--format", "markdown", "-o", str(md)]) == GATE_FAILED
    assert "| Severity | Rule | Operation | Change | Pointer |" in md.read_text()
    assert harness_main(["contract", "diff", old, new, "--format", "json", "-o", str(js)]) == GATE_FAILED
    payload = json.loads(js.read_text())
    assert [(c["rule"], c["pointer"]) for c in payload["changes"]] == [
        ("response-property-removed", RESP + "/properties/name")
    ]


@pytest.mark.parametrize("problem", ["missing-file", "not-openapi", "bad-allowlist"])
def test_diff_exits_2_on_bad_input(
    harness_main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    old, new = _breaking_pair(tmp_path)
    args = ["contract", "diff", old, new]
    if problem == "missing-file":
        args[3] = str(tmp_path / "missing.json")
    elif problem == "not-openapi":
        args[3] = _write(tmp_path / "x.json", {"hello": "world"})
    else:
        (tmp_path / "allow.toml").write_text('[[accept]]\nrule = "nope"\npointer = "/x"\nreason = "r"\n')
        args += ["--allowlist", str(tmp_path / "allow.toml")]
    assert harness_main(args) == USAGE
    assert capsys.readouterr().err.startswith("harness: error: ")


def test_diff_unknown_format_is_an_argparse_usage_error(harness_main: Main, tmp_path: Path) -> None:
    old, new = _breaking_pair(tmp_path)
    with pytest.raises(SystemExit) as info:
        harness_main(["contract", "diff", old, new, "--format", "html"])
    assert info.value.code == USAGE


def test_diff_against_urls(harness_main: Main, serve: Callable[[dict[str, str]], str], tmp_path: Path) -> None:
    old, new = _breaking_pair(tmp_path)
    base = serve({"/base.json": Path(old).read_text(), "/head.json": Path(new).read_text()})
    assert harness_main(["contract", "diff", f"{base}/base.json", f"{base}/head.json"]) == GATE_FAILED
    assert harness_main(["contract", "diff", f"{base}/base.json", f"{base}/base.json"]) == OK
    assert harness_main(["contract", "diff", f"{base}/base.json", f"{base}/missing.json"]) == USAGE


# export and check (the live schema is the `live_schema` fixture) ---------------------------------


def test_export_is_deterministic(harness_main: Main, live_schema: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "contracts" / "openapi.json"
    assert harness_main(["contract", "export", "-o", str(target)]) == OK
    first = target.read_bytes()
    assert first == live.serialize(live_schema).encode()
    assert first.endswith(b"}\n")
    assert b'\n  "components": {' in first  # indent 2, sorted keys first
    assert list(json.loads(first)) == sorted(live_schema)
    live_schema["paths"] = dict(reversed(list(live_schema["paths"].items())))  # insertion order must not matter
    assert harness_main(["contract", "export", "-o", str(target)]) == OK
    assert target.read_bytes() == first


def test_export_to_stdout(harness_main: Main, live_schema: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert harness_main(["contract", "export", "-o", "-"]) == OK
    assert json.loads(capsys.readouterr().out) == live_schema


def test_check_passes_when_up_to_date(
    harness_main: Main, live_schema: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text(live.serialize(live_schema))
    assert harness_main(["contract", "check", "--contract", str(contract)]) == OK
    assert "up to date" in capsys.readouterr().out


def test_check_fails_on_drift_with_a_diff_and_the_classified_change(
    harness_main: Main, live_schema: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text(live.serialize(live_schema))
    del live_schema["components"]["schemas"]["Item"]["properties"]["name"]
    assert harness_main(["contract", "check", "--contract", str(contract)]) == GATE_FAILED
    out = capsys.readouterr().out
    assert f"--- {contract} (committed)" in out
    assert f"+++ {contract} (live)" in out
    assert '-          "name": {' in out
    assert "BREAKING  response-property-removed  [GET /items]" in out
    assert "response field 'name' was removed" in out
    assert "via #/components/schemas/Item at /components/schemas/Item/properties/name" in out


def test_check_update_rewrites_the_contract(harness_main: Main, live_schema: dict[str, Any], tmp_path: Path) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text(live.serialize(live_schema))
    live_schema["components"]["schemas"]["Item"]["properties"]["sku"] = {"type": "string"}
    assert harness_main(["contract", "check", "--contract", str(contract), "--update"]) == OK
    assert json.loads(contract.read_text()) == live_schema
    assert harness_main(["contract", "check", "--contract", str(contract)]) == OK


def test_check_flags_a_hand_formatted_contract(
    harness_main: Main, live_schema: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text(json.dumps(live_schema))  # same content, not the canonical formatting
    assert harness_main(["contract", "check", "--contract", str(contract)]) == GATE_FAILED
    assert "Only the formatting differs" in capsys.readouterr().out


def test_check_without_a_contract(harness_main: Main, live_schema: dict[str, Any], tmp_path: Path) -> None:
    contract = tmp_path / "openapi.json"
    assert harness_main(["contract", "check", "--contract", str(contract)]) == USAGE
    assert harness_main(["contract", "check", "--contract", str(contract), "--update"]) == OK
    assert contract.read_text() == live.serialize(live_schema)


def test_unimportable_app_is_exit_2_with_the_import_error_in_one_line(
    harness_main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real import (no live_schema stand-in), in a subprocess of the target's interpreter."""
    code = harness_main(["contract", "export", "--app", "contracts_no_such_app.main:app", "-o", str(tmp_path / "x")])
    assert code == USAGE
    err = capsys.readouterr().err.strip()
    assert "No module named 'contracts_no_such_app'" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_update_refuses_a_foreign_contract_and_leaves_it_unchanged(
    harness_main: Main, live_schema: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = edit(OLD)
    foreign["paths"] = {"/orders": {"post": {"responses": {"201": {"description": "created"}}}}}
    contract = tmp_path / "openapi.json"
    contract.write_text(live.serialize(foreign))
    before = contract.read_bytes()
    assert harness_main(["contract", "check", "--contract", str(contract), "--update"]) == USAGE
    assert "shares no operation" in capsys.readouterr().err
    assert contract.read_bytes() == before
    assert harness_main(["contract", "check", "--contract", str(contract), "--update", "--force"]) == OK
    assert json.loads(contract.read_text()) == live_schema


def test_a_relative_contract_is_resolved_from_the_cwd(
    harness_main: Main, live_schema: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "openapi.json").write_text(live.serialize(live_schema))
    monkeypatch.chdir(tmp_path)
    assert harness_main(["contract", "check", "--contract", "contracts/openapi.json"]) == OK
    assert str(tmp_path / "contracts" / "openapi.json") in capsys.readouterr().out


def test_registered_in_the_real_harness_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The assembled `harness` parser (every part) routes `contract diff` here."""
    import harness.cli

    old, new = _breaking_pair(tmp_path)
    assert harness.cli.main(["contract", "diff", old, old]) == OK
    assert "no API changes" in capsys.readouterr().out
    assert harness.cli.main(["contract", "diff", old, new, "--format", "json"]) == GATE_FAILED
    assert json.loads(capsys.readouterr().out)["failed"] is True
