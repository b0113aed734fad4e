"""Loading load-runner results (``results.json``) and validating them against their JSON schema.

The schema in ``load/results.schema.json`` is the interface between the load runner and every
report; anything that doesn't match it is rejected with exit code 2 before a single number is
read.  Several results files (one per profile) make one :class:`RunSet`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from harness import exitcodes
from harness.exitcodes import HarnessError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "load" / "results.schema.json"
MAX_SCHEMA_ERRORS = 5

Json = dict[str, Any]


class ResultsError(HarnessError):
    """Input that isn't a valid results document (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.USAGE)


@cache
def load_schema() -> Json:
    try:
        schema: Json = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except OSError as exc:  # pragma: no cover - broken installation
        raise ResultsError(f"cannot read the results schema {SCHEMA_PATH}: {exc}") from exc
    return schema


@cache
def _validator() -> Any:
    # jsonschema-rs (a schemathesis dependency) implements draft 2020-12 including formats.
    return jsonschema_rs.validator_for(load_schema(), validate_formats=True)


def _where(path: list[str | int]) -> str:
    return "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in path)


def schema_errors(doc: object) -> list[str]:
    """Human-readable schema violations of ``doc``, ordered by location; empty when valid."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (list(map(str, e.instance_path)), e.message))
    return [f"{_where(e.instance_path)}: {e.message}" for e in errors]


def semantic_errors(doc: Json) -> list[str]:
    """Cross-field rules the schema can't express: rounds must name declared arms, arms are unique."""
    problems: list[str] = []
    names = [arm["name"] for arm in doc["arms"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"arms: duplicate arm names {dupes}")
    unknown = sorted({r["arm"] for r in doc["rounds"]} - set(names))
    if unknown:
        problems.append(f"rounds: rounds refer to undeclared arms {unknown} (declared: {names})")
    return problems


def validate(doc: object, *, source: str = "<results>") -> Json:
    """Return ``doc`` if it is a valid results document, else raise :class:`ResultsError`."""
    errors = schema_errors(doc)
    if not errors:
        assert isinstance(doc, dict)  # the schema requires an object
        errors = semantic_errors(doc)
    if errors:
        shown = "\n  ".join(errors[:MAX_SCHEMA_ERRORS])
        more = f"\n  ... and {len(errors) - MAX_SCHEMA_ERRORS} more" if len(errors) > MAX_SCHEMA_ERRORS else ""
        raise ResultsError(f"{source} is not a valid results file ({SCHEMA_PATH.name}):\n  {shown}{more}")
    assert isinstance(doc, dict)
    return doc


def read_json(path: Path, *, what: str = "JSON") -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not valid JSON: {exc}") from exc


def load_results(path: Path) -> Json:
    return validate(read_json(path, what="results"), source=str(path))


@dataclass(frozen=True)
class RunSet:
    """The results of one CI run: one validated document per profile, in the order given."""

    docs: tuple[Json, ...]

    @classmethod
    def from_docs(cls, docs: Iterable[Json]) -> RunSet:
        docs = tuple(docs)
        if not docs:
            raise ResultsError("no results given")
        seen: dict[str, str] = {}
        for doc in docs:
            profile = doc["profile"]
            if profile in seen:
                raise ResultsError(
                    f"two results files for profile {profile!r} (runs {seen[profile]!r} and "
                    f"{doc['run_id']!r}); give one results file per profile"
                )
            seen[profile] = doc["run_id"]
        return cls(docs)

    @property
    def profiles(self) -> list[str]:
        return [doc["profile"] for doc in self.docs]

    def get(self, profile: str) -> Json | None:
        for doc in self.docs:
            if doc["profile"] == profile:
                return doc
        return None

    @property
    def valid(self) -> bool:
        return all(doc["validity"]["valid"] for doc in self.docs)

    @property
    def invalid_reasons(self) -> list[str]:
        return [
            f"{doc['profile']}: {reason}"
            for doc in self.docs
            if not doc["validity"]["valid"]
            for reason in (doc["validity"]["reasons"] or ["marked invalid by the load runner"])
        ]

    @property
    def run_id(self) -> str:
        ids = list(dict.fromkeys(doc["run_id"] for doc in self.docs))
        return "+".join(ids)


def load_runset(paths: Sequence[Path | str]) -> RunSet:
    return RunSet.from_docs(load_results(Path(p)) for p in paths)


def arm_names(doc: Mapping[str, Any]) -> list[str]:
    return [arm["name"] for arm in doc["arms"]]


def measured_rounds(doc: Mapping[str, Any], arm: str) -> list[Json]:
    """The non-warm-up rounds of ``arm``, in index order: the samples every statistic is drawn from."""
    rounds = [r for r in doc["rounds"] if r["arm"] == arm and not r["warmup"]]
    return sorted(rounds, key=lambda r: r["index"])
