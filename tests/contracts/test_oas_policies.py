"""Severities (breaking / warning / info), policies as configuration, ``--fail-on``, JUnit output."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.allowlist import parse_config
from contracts.diff import diff_documents
from contracts.policies import Policy
from harness.exitcodes import GATE_FAILED, OK, USAGE
from tests.contracts.openapi_docs import GET, RESP, as_30, doc, found, obj, ok, op, response_doc, rules_at

Main = Callable[[list[str]], int]
TODAY = dt.date(2026, 6, 1)
STATUS = {"type": "string", "enum": ["pending", "done"]}


def _levels(old: dict[str, Any], new: dict[str, Any], **policy: Any) -> list[tuple[str, str]]:
    return [(c.rule, c.level) for c in diff_documents(old, new, Policy(**policy)).changes]


# Warnings: potentially breaking ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_potentially_breaking_changes_are_warnings(version: str) -> None:
    def pair(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
        return _levels(as_30(old), as_30(new)) if version == "3.0" else _levels(old, new)

    wider = {**STATUS, "enum": ["pending", "done", "failed"]}
    assert pair(response_doc(obj({"s": STATUS})), response_doc(obj({"s": wider}))) == [
        ("response-enum-widened", "warning")
    ]
    renamed = doc({"/items": {"get": op(operationId="list_items")}})
    assert pair(doc({"/items": {"get": op(operationId="items_list")}}), renamed) == [
        ("operation-id-changed", "warning")
    ]
    with_404 = doc({"/items": {"get": op(responses={**ok({}), "404": {"description": "gone"}})}})
    assert pair(with_404, doc({"/items": {"get": op(responses=ok({}))}})) == [("error-response-removed", "warning")]


def test_warnings_fail_only_with_fail_on_warning() -> None:
    old, new = doc({"/items": {"get": op(operationId="a")}}), doc({"/items": {"get": op(operationId="b")}})
    report = diff_documents(old, new)
    assert not report.failed
    report.fail_on = "warning"
    assert report.failed


# Deprecation and sunset -----------------------------------------------------------------------


def _deprecated(**extra: Any) -> dict[str, Any]:
    return doc({"/items": {"get": op(), "delete": op(deprecated=True, **extra)}})


KEPT = doc({"/items": {"get": op()}})
DELETE = "/paths/~1items/delete"


def test_removal_after_the_sunset_date_is_info() -> None:
    old = _deprecated(**{"x-sunset": "2026-01-01"})
    assert rules_at(old, KEPT, today=TODAY) == [("operation-removed-after-sunset", DELETE)]
    assert not diff_documents(old, KEPT, Policy(today=TODAY)).failed


def test_removal_before_the_sunset_date_is_breaking() -> None:
    old = _deprecated(**{"x-sunset": "2026-12-31"})
    assert rules_at(old, KEPT, today=TODAY) == [("operation-removed-before-sunset", DELETE)]
    assert diff_documents(old, KEPT, Policy(today=TODAY)).failed


def test_removal_without_sunset_stays_a_plain_removal() -> None:
    assert rules_at(_deprecated(), KEPT, today=TODAY) == [("operation-removed", DELETE)]


def test_removed_path_whose_operations_all_reached_sunset() -> None:
    old = doc({"/old": {"get": op(deprecated=True, **{"x-sunset": "2025-01-01"})}, "/items": {"get": op()}})
    assert rules_at(old, KEPT, today=TODAY) == [("operation-removed-after-sunset", "/paths/~1old/get")]


def test_deprecating_an_operation_is_info() -> None:
    new = doc({"/items": {"get": op(deprecated=True, **{"x-sunset": "2027-01-01"})}})
    assert _levels(KEPT, new) == [("operation-deprecated", "info")]


def test_sunset_policy_severity_is_configurable() -> None:
    old = _deprecated(**{"x-sunset": "2026-01-01"})
    severities = {"operation-removed-after-sunset": "breaking"}
    assert diff_documents(old, KEPT, Policy(today=TODAY, severities=severities)).failed  # type: ignore[arg-type]


# Stability levels -----------------------------------------------------------------------------


def _staged(level: str, schema: dict[str, Any]) -> dict[str, Any]:
    return doc({"/items": {"get": op(responses=ok(schema), **{"x-stability-level": level})}})


FULL = obj({"id": {"type": "integer"}, "name": {"type": "string"}})
SHORT = obj({"id": {"type": "integer"}})


@pytest.mark.parametrize("level", ["alpha", "beta"])
def test_breaking_change_to_an_unstable_operation_is_info_by_policy(level: str) -> None:
    report = diff_documents(_staged(level, FULL), _staged(level, SHORT))
    [change] = report.changes
    assert (change.rule, change.level, change.policy) == (
        "response-property-removed",
        "info",
        "unstable-operation-changed",
    )
    assert not report.failed


def test_stable_operation_is_not_exempt() -> None:
    assert diff_documents(_staged("stable", FULL), _staged("stable", SHORT)).failed


def test_unstable_policy_can_be_turned_off() -> None:
    policy = Policy(severities={"unstable-operation-changed": "breaking"})
    assert diff_documents(_staged("beta", FULL), _staged("beta", SHORT), policy).failed


def test_lowering_the_stability_level_is_breaking() -> None:
    assert found(_staged("stable", FULL), _staged("beta", FULL)) == [
        ("stability-level-decreased", GET + "/x-stability-level")
    ]
    assert diff_documents(_staged("stable", FULL), _staged("beta", FULL)).failed


# Extensible enums -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "at"),
    [
        (
            {"type": "string", "x-extensible-enum": ["a"]},
            {"type": "string", "x-extensible-enum": ["a", "b"]},
            "x-extensible-enum",
        ),
        (
            {"type": "string", "enum": ["a"], "x-extensible-enum": True},
            {"type": "string", "enum": ["a", "b"], "x-extensible-enum": True},
            "enum",
        ),
    ],
    ids=["zalando-list", "marker"],
)
def test_extensible_enum_gaining_a_value_in_a_response_is_info(
    old: dict[str, Any], new: dict[str, Any], at: str
) -> None:
    before, after = response_doc(obj({"s": old})), response_doc(obj({"s": new}))
    assert found(before, after) == [("response-extensible-enum-widened", f"{RESP}/properties/s/{at}")]
    assert _levels(before, after) == [("response-extensible-enum-widened", "info")]


def test_plain_enum_gaining_a_response_value_stays_a_warning() -> None:
    before = response_doc(obj({"s": STATUS}))
    after = response_doc(obj({"s": {**STATUS, "enum": ["pending", "done", "x"]}}))
    assert _levels(before, after) == [("response-enum-widened", "warning")]


# Configuration file ---------------------------------------------------------------------------


def test_severity_table_in_the_allowlist_file() -> None:
    config = parse_config(
        '[severity]\n"request-constraint-undecidable" = "breaking"\n"operation-id-changed" = "info"\n',
        "allow.toml",
        yaml_format=False,
    )
    assert config.severities == {"request-constraint-undecidable": "breaking", "operation-id-changed": "info"}
    yaml_config = parse_config("severity:\n  response-enum-widened: breaking\n", "a.yaml", yaml_format=True)
    assert yaml_config.severities == {"response-enum-widened": "breaking"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[severity]\n"no-such-rule" = "info"\n', "unknown rule"),
        ('[severity]\n"operation-id-changed" = "fatal"\n', "must be one of"),
        ('[severities]\n"operation-id-changed" = "info"\n', "unknown top-level keys"),
    ],
)
def test_bad_severity_configuration_is_rejected(text: str, message: str) -> None:
    from harness.exitcodes import HarnessError

    with pytest.raises(HarnessError, match=message):
        parse_config(text, "allow.toml", yaml_format=False)


# CLI: --fail-on, configuration, JUnit -----------------------------------------------------------


def _files(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> tuple[str, str]:
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    return str(tmp_path / "old.json"), str(tmp_path / "new.json")


def test_cli_fail_on_warning(harness_main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _files(
        tmp_path, doc({"/items": {"get": op(operationId="a")}}), doc({"/items": {"get": op(operationId="b")}})
    )
    assert harness_main(["contract", "diff", old, new]) == OK
    assert "WARNING   operation-id-changed  [GET /items]" in capsys.readouterr().out
    assert harness_main(["contract", "diff", old, new, "--fail-on", "warning"]) == GATE_FAILED


def test_cli_severity_from_the_allowlist_file(harness_main: Main, tmp_path: Path) -> None:
    old, new = _files(tmp_path, _staged("beta", FULL), _staged("beta", SHORT))
    assert harness_main(["contract", "diff", old, new]) == OK
    config = tmp_path / "allow.toml"
    config.write_text('[severity]\n"unstable-operation-changed" = "breaking"\n')
    assert harness_main(["contract", "diff", old, new, "--allowlist", str(config)]) == GATE_FAILED
    config.write_text('[severity]\n"unstable-operation-changed" = "loud"\n')
    assert harness_main(["contract", "diff", old, new, "--allowlist", str(config)]) == USAGE


def test_cli_junit_and_json_carry_the_severity(harness_main: Main, tmp_path: Path) -> None:
    old_doc = response_doc(obj({"s": STATUS, "gone": {"type": "string"}}))
    new_doc = response_doc(obj({"s": {**STATUS, "enum": ["pending", "done", "x"]}}))
    old, new = _files(tmp_path, old_doc, new_doc)
    xml_path, json_path = tmp_path / "diff.xml", tmp_path / "diff.json"
    assert harness_main(["contract", "diff", old, new, "--format", "junit", "-o", str(xml_path)]) == GATE_FAILED
    suite = ET.parse(xml_path).getroot().find("testsuite")  # noqa: S314 - our own output
    assert suite is not None
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    cases = {case.get("classname"): case for case in suite.iter("testcase")}
    removed, widened = cases["response-property-removed"], cases["response-enum-widened"]
    assert removed.find("failure") is not None
    assert removed.find("failure").get("type") == "breaking"
    assert widened.find("failure") is None
    assert {p.get("name"): p.get("value") for p in widened.iter("property")}["severity"] == "warning"
    assert (
        harness_main(["contract", "diff", old, new, "--format", "junit", "--fail-on", "warning", "-o", str(xml_path)])
        == GATE_FAILED
    )
    suite = ET.parse(xml_path).getroot().find("testsuite")  # noqa: S314 - our own output
    assert suite is not None
    assert suite.get("failures") == "2"
    harness_main(["contract", "diff", old, new, "--format", "json", "-o", str(json_path)])
    payload = json.loads(json_path.read_text())
    assert [(c["rule"], c["severity"]) for c in payload["changes"]] == [
        ("response-property-removed", "breaking"),
        ("response-enum-widened", "warning"),
    ]
    assert payload["summary"]["warning"] == 1


def test_markdown_carries_the_severity(harness_main: Main, tmp_path: Path) -> None:
    old, new = _files(
        tmp_path, doc({"/items": {"get": op(operationId="a")}}), doc({"/items": {"get": op(operationId="b")}})
    )
    md = tmp_path / "r.md"
    assert (
        harness_main(["contract", "diff", old, new, "--format", "markdown", "--fail-on", "warning", "-o", str(md)])
        == GATE_FAILED
    )
    text = md.read_text()
    assert "warnings found (--fail-on warning)" in text
    assert "| **warning** | `operation-id-changed` |" in text


def test_accepting_a_warning_in_the_allowlist(harness_main: Main, tmp_path: Path) -> None:
    old, new = _files(
        tmp_path, doc({"/items": {"get": op(operationId="a")}}), doc({"/items": {"get": op(operationId="b")}})
    )
    config = tmp_path / "allow.toml"
    config.write_text(
        '[[accept]]\nrule = "operation-id-changed"\npointer = "/paths/*"\nreason = "clients regenerated"\n'
    )
    assert harness_main(["contract", "diff", old, new, "--fail-on", "warning", "--allowlist", str(config)]) == OK
