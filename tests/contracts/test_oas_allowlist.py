"""Accepting known breaking changes through an allowlist file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.allowlist import apply_allowlist, load_allowlist, parse_allowlist
from contracts.diff import diff_documents
from contracts.model import DiffReport
from harness.exitcodes import USAGE, HarnessError
from tests.contracts.openapi_docs import RESP, edit, item_schema, ref, response_doc

REMOVED = RESP + "/properties/category"


def _report() -> DiffReport:
    """Item loses `category` (breaking) and gains `sku` (not breaking)."""
    old = response_doc(ref("Item"), schemas={"Item": item_schema()})
    new = edit(old)
    props = new["components"]["schemas"]["Item"]["properties"]
    del props["category"]
    props["sku"] = {"type": "string"}
    return diff_documents(old, new)


def _toml(pointer: str, rule: str = "response-property-removed", extra: str = "") -> str:
    return f'[[accept]]\nrule = "{rule}"\npointer = "{pointer}"\nreason = "announced in v1.4"\n{extra}'


def test_exact_pointer_accepts_the_break() -> None:
    entries = parse_allowlist(_toml(REMOVED), "allow.toml", yaml_format=False)
    report = apply_allowlist(_report(), entries)
    [accepted] = report.accepted
    assert (accepted.rule, accepted.pointer, accepted.status) == (
        "response-property-removed",
        REMOVED,
        "accepted",
    )
    assert accepted.accepted_reason == "announced in v1.4"
    assert not report.failed
    assert report.notes == []


def test_glob_on_the_component_pointer_accepts_every_use_site() -> None:
    entries = parse_allowlist(_toml("/components/schemas/Item/*"), "allow.toml", yaml_format=False)
    assert not apply_allowlist(_report(), entries).failed


def test_entry_for_another_rule_or_pointer_does_not_accept() -> None:
    other_rule = parse_allowlist(_toml(REMOVED, rule="response-property-made-optional"), "a", yaml_format=False)
    other_pointer = parse_allowlist(_toml(RESP + "/properties/name"), "a", yaml_format=False)
    for entries in (other_rule, other_pointer):
        report = apply_allowlist(_report(), entries)
        assert [c.rule for c in report.breaking] == ["response-property-removed"]
        assert report.failed
        assert report.notes == [f"allowlist a entry 1 ({entries[0].rule} {entries[0].pointer}) matched nothing"]


def test_non_breaking_changes_are_never_marked_accepted() -> None:
    entries = parse_allowlist(_toml("*", rule="response-property-added"), "a", yaml_format=False)
    report = apply_allowlist(_report(), entries)
    assert report.accepted == []
    assert [c.status for c in report.non_breaking] == ["info"]


def test_expired_entry_no_longer_applies() -> None:
    entries = parse_allowlist(_toml(REMOVED, extra="expires = 2025-01-31\n"), "a", yaml_format=False)
    assert not apply_allowlist(_report(), entries, today=dt.date(2025, 1, 31)).failed
    late = apply_allowlist(_report(), entries, today=dt.date(2025, 2, 1))
    assert late.failed
    assert late.notes[0].endswith("expired on 2025-01-31")


def test_yaml_allowlist(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(
        f"accept:\n  - rule: response-property-removed\n    pointer: '#{REMOVED}'\n    reason: ok\n"
        "    expires: 2999-01-01\n"
    )
    [entry] = load_allowlist(path)
    assert (entry.pointer, entry.expires) == (REMOVED, dt.date(2999, 1, 1))
    assert not apply_allowlist(_report(), [entry]).failed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_toml(REMOVED, rule="field-removed"), "unknown rule 'field-removed'"),
        ('[[accept]]\nrule = "response-property-removed"\npointer = "/x"\n', "'reason' is required"),
        ('[[accept]]\nrule = "response-removed"\nreason = "r"\n', "'pointer'"),
        (_toml(REMOVED, extra='expires = "soon"\n'), "'expires' must be a date"),
        (_toml(REMOVED, extra='owner = "me"\n'), "unknown keys"),
        ("accept = 3", "expected a list"),
        ("[[accept]\n", "cannot parse"),
    ],
)
def test_invalid_allowlist_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as info:
        parse_allowlist(text, "allow.toml", yaml_format=False)
    assert info.value.exit_code == USAGE
