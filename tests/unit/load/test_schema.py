"""A synthetic results document, assembled by the runner's own code, validates against the schema."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from harness.exitcodes import HarnessError
from harness.target import load_target
from load.experiment import from_target
from load.runner import RunOptions, assemble
from load.schema import errors, validate
from reports import plans
from tests.unit.load.synthetic import ARMS, two_arm_rounds

EXPERIMENTS = from_target(load_target())  # this repository's [tool.harness]


def synthetic_doc(**opts: object) -> dict:  # type: ignore[type-arg]
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    return assemble("run-1", "io", EXPERIMENTS["io"], RunOptions(**opts), 100,  # type: ignore[arg-type]
                    {"rounds": 3, "round_seconds": 5.0, "warmup": 2.0}, ["A", "B", "B", "A", "A", "B"],
                    copy.deepcopy(ARMS), rounds)


def test_synthetic_document_is_valid() -> None:
    doc = synthetic_doc(quick=True)
    assert errors(doc) == []
    assert doc["validity"]["valid"] is True
    verdicts = {c["metric"]: c["verdict"] for c in doc["comparisons"]}
    # p95 100..102 ms in both arms: inside the quick plan's margin; p99 of 500-request rounds is left out
    assert verdicts == {"rps": "numerator higher", "p95_ms": "equivalent",
                        "p99_ms": "invalid: not enough data (no round with 1000+ requests)"}
    assert doc["config"]["plan"]["name"] == "quick"
    assert [c["mde"] for c in doc["comparisons"]] == [plans.QUICK.mde(m) for m in ("rps", "p95_ms", "p99_ms")]


def test_saturated_document_is_still_schema_valid() -> None:
    doc = synthetic_doc()
    doc["rounds"][4]["saturated"] = True
    assert errors(doc) == []


def test_schema_violations_are_reported() -> None:
    doc = synthetic_doc()
    doc["format_version"] = 2
    del doc["rounds"][0]["rps"]
    problems = errors(doc)
    assert len(problems) >= 2
    with pytest.raises(HarnessError):
        validate(doc)


def test_schema_file_is_the_committed_one() -> None:
    from load.schema import SCHEMA_PATH

    assert Path(__file__).resolve().parents[3] / "load" / "results.schema.json" == SCHEMA_PATH


def test_profile_checks_are_always_reported() -> None:
    rounds = two_arm_rounds((100, 110, 120), (400, 420, 440))
    rounds[3]["counters"] = {"cache_hit": 7}
    doc = assemble("run-2", "cache", EXPERIMENTS["cache"], RunOptions(), 20,
                   {"rounds": 3, "round_seconds": 5.0, "warmup": 2.0}, [], copy.deepcopy(ARMS), rounds)
    assert doc["checks"]["cache_mismatches"] == 0
    assert doc["checks"]["cache_hit"] == 7
    assert errors(doc) == []
