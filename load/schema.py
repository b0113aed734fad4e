"""Validation of results documents against ``load/results.schema.json`` (format version 1)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from harness import exitcodes

SCHEMA_PATH = Path(__file__).resolve().parent / "results.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


def errors(doc: Any) -> list[str]:
    """Every schema violation, as 'path: message' (empty when valid)."""
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in _validator().iter_errors(doc)]


@lru_cache(maxsize=1)
def _validator() -> jsonschema_rs.Validator:
    # The same validator the reports package uses, so a document one accepts the other accepts.
    return jsonschema_rs.validator_for(schema(), validate_formats=True)


def validate(doc: Any) -> None:
    problems = errors(doc)
    if problems:
        raise exitcodes.HarnessError("results document does not match results.schema.json:\n  "
                                     + "\n  ".join(problems[:20]), exit_code=exitcodes.INVALID_RUN)
