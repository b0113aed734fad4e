"""The rule catalogue, its documentation and its tests stay in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contracts import pointer
from contracts.model import Change
from contracts.rules import RULES

HERE = Path(__file__).parent
DOCS = HERE.parents[1] / "docs" / "contracts.md"


def _documented_rules() -> dict[str, tuple[str, str, str]]:
    """The rule table of docs/contracts.md: rule id -> (severity, meaning, example)."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("| rule id | severity | meaning | example (old → new) |")
    rows: dict[str, tuple[str, str, str]] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rule_id, severity, meaning, example = cells
        assert rule_id.strip("`") not in rows, f"{rule_id} listed twice"
        rows[rule_id.strip("`")] = (severity.strip("*"), meaning, example)
    return rows


def test_docs_rule_table_matches_the_code() -> None:
    documented = _documented_rules()
    assert sorted(documented) == sorted(RULES), "docs/contracts.md's rule table and contracts/rules.py differ"
    for rule_id, (severity, meaning, example) in documented.items():
        rule = RULES[rule_id]
        assert (severity, meaning) == (rule.level, rule.summary), f"{rule_id}: docs say {severity!r}, {meaning!r}"
        assert "→" in example, f"{rule_id}: no example pair (old → new) in the docs"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_is_tested(rule_id: str) -> None:
    tests = "".join(p.read_text(encoding="utf-8") for p in HERE.glob("test_oas_*.py") if p.name != Path(__file__).name)
    assert f'"{rule_id}"' in tests, f"no test asserts rule {rule_id}"


def test_unknown_rule_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        Change("field-gone", "/x", "typo")


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("paths", "/items/{id}", "get"), "/paths/~1items~1{id}/get"),
        (("a~b", "c/d", 0), "/a~0b/c~1d/0"),
        (("~1",), "/~01"),  # escape ~ first, or "~1" would come back as "/"
        ((), ""),
    ],
)
def test_json_pointer_round_trip(tokens: tuple[str | int, ...], expected: str) -> None:
    assert pointer.build(tokens) == expected
    assert pointer.split(expected) == [str(t) for t in tokens]
    assert pointer.split("#" + expected) == [str(t) for t in tokens]
