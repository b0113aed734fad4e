"""Results loading and validation against load/results.schema.json."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness import exitcodes
from reports.results import ResultsError, RunSet, load_runset, schema_errors, validate
from tests.utils.results_factory import Arm, make_results


def test_factory_output_is_schema_valid(io_results: dict[str, Any]) -> None:
    assert schema_errors(io_results) == []
    assert validate(io_results) is io_results


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda d: d.pop("validity"), "validity"),
        (lambda d: d.update(format_version=2), "format_version"),
        (lambda d: d["rounds"][0].update(rps=-1), "rounds"),
        (lambda d: d["arms"][0].update(server="nginx"), "server"),
        (lambda d: d["config"].update(users=0), "users"),
    ],
)
def test_broken_document_fails_with_a_message(io_results: dict[str, Any], breakage: Any, expected: str) -> None:
    doc = copy.deepcopy(io_results)
    breakage(doc)
    with pytest.raises(ResultsError) as info:
        validate(doc, source="broken.json")
    message = str(info.value)
    assert "broken.json is not a valid results file" in message
    assert expected in message
    assert info.value.exit_code == exitcodes.USAGE


def test_rounds_must_name_declared_arms(io_results: dict[str, Any]) -> None:
    doc = copy.deepcopy(io_results)
    doc["rounds"][0]["arm"] = "ghost"
    with pytest.raises(ResultsError, match="undeclared arms \\['ghost'\\]"):
        validate(doc)


def test_not_json_and_missing_file_are_usage_errors(write_json: Any, tmp_path: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_runset([bad])
    with pytest.raises(ResultsError, match="cannot read"):
        load_runset([tmp_path / "missing.json"])


def test_several_profiles_make_one_runset(write_json: Any) -> None:
    io = write_json("io.json", make_results(profile="io"))
    cpu = write_json("cpu.json", make_results({"a": Arm(), "b": Arm()}, profile="cpu"))
    runset = load_runset([io, cpu])
    assert runset.profiles == ["io", "cpu"]
    assert runset.get("cpu") is not None
    assert runset.valid


def test_two_files_for_one_profile_are_rejected() -> None:
    with pytest.raises(ResultsError, match="two results files for profile 'io'"):
        RunSet.from_docs([make_results(seed=1), make_results(seed=2)])


def test_invalid_reasons_are_collected() -> None:
    runset = RunSet.from_docs([make_results(valid=False, reasons=["load generator saturated"])])
    assert not runset.valid
    assert runset.invalid_reasons == ["io: load generator saturated"]
