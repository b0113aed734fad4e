"""Everything one report shows, gathered once and handed to every renderer (HTML, Markdown, JUnit, JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from harness import exitcodes
from reports.gates import Evaluation, Overall
from reports.history import Series
from reports.results import RunSet

FORMAT = "fastapi-harness.report"
FORMAT_VERSION = 1

ReportOutcome = Overall | Literal["no gates"]


@dataclass(frozen=True)
class ReportData:
    runset: RunSet
    evaluation: Evaluation | None = None
    baseline_source: str | None = None
    bench: dict[str, Any] | None = None
    schemathesis: dict[str, Any] | None = None
    contract_diff: dict[str, Any] | None = None
    #: gated figures over the baseline's stored runs (``reports.history``); None without a baseline
    history: tuple[Series, ...] | None = None

    @property
    def outcome(self) -> ReportOutcome:
        if self.evaluation is not None:
            return self.evaluation.outcome
        return "invalid" if not self.runset.valid else "no gates"

    @property
    def exit_code(self) -> int:
        if self.evaluation is not None:
            return self.evaluation.exit_code
        return exitcodes.INVALID_RUN if not self.runset.valid else exitcodes.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run_id": self.runset.run_id,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "invalid_reasons": self.runset.invalid_reasons,
            "gates": self.evaluation.as_dict() if self.evaluation is not None else None,
            "baseline": self.baseline_source,
            "bench": self.bench,
            "schemathesis": self.schemathesis,
            "contract_diff": self.contract_diff,
            "history": None if self.history is None else [
                {"profile": s.profile, "arm": s.arm, "metric": s.metric, "margin": s.margin,
                 "run_ids": list(s.run_ids), "values": list(s.values),
                 "change_points": [c.as_dict() for c in s.change_points]} for s in self.history],
            "results": list(self.runset.docs),
        }
