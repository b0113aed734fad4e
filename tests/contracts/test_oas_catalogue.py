"""The rule catalogue, its documentation and its tests stay in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import pointer
from contracts.model import Change
from contracts.rules import RULES

HERE = Path(__file__).parent
DOCS = HERE.parents[1] / "docs" / "contracts.md"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_is_documented_and_tested(rule_id: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    rule = RULES[rule_id]
    row = f"| `{rule_id}` | {'**breaking**' if rule.breaking else 'non-breaking'} |"
    assert row in docs, f"docs/contracts.md has no row for {rule_id}"
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
