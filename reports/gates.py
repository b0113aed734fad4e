"""Evaluating quality gates against a run: pass, fail, inconclusive, or skipped.

* absolute: the arm's value (median over measured rounds, or pooled) against the threshold;
* relative: the exact CI of the Hodges-Lehmann ratio of two arms (``reports.stats``); ``>=``/``>``
  are decided on the CI's lower bound, ``<=``/``<`` on its upper bound, so a point estimate that
  merely grazes the threshold fails. A gate that claims a difference from 1 smaller than the plan's
  margin (``ratio > 1.02`` at a ±10% margin) is judged at the margin: inside it, arms count as the
  same, so a 1% drift never passes as "faster";
* baseline: the CI of current/baseline per arm: *fail* only if the whole CI is beyond the allowed
  regression, *pass* if the whole CI is within it, else *inconclusive*. The allowed regression is
  at least the plan's margin: a smaller regression is not a verdict the plan can make. Since the
  allowed region always contains 1 (no change), a run compared with itself (A/A) can never fail.

A results file with ``validity.valid == false`` makes the overall outcome *invalid* (exit 3),
whatever the gates say.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness import exitcodes
from reports.gatespec import GateSpec, GateSpecError, Op
from reports.metrics import (
    arm_rounds,
    arm_value,
    format_value,
    plan_margin,
    plan_mde,
    request_names,
    rounds_ratio_ci,
)
from reports.results import Json, RunSet, arm_names

Outcome = Literal["pass", "fail", "inconclusive", "skipped"]
Overall = Literal["pass", "fail", "inconclusive", "invalid"]

OPS: dict[Op, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Check:
    """One arm's part of a gate (a gate over all arms has one check per arm)."""

    arm: str
    outcome: Outcome
    detail: str
    value: float | None = None
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("arm", "outcome", "detail", "value", "low", "high")}


@dataclass(frozen=True)
class GateResult:
    spec: GateSpec
    outcome: Outcome
    detail: str
    checks: tuple[Check, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate": self.spec.as_dict(),
            "outcome": self.outcome,
            "detail": self.detail,
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass
class Evaluation:
    gates: list[GateResult]
    invalid_reasons: list[str] = field(default_factory=list)
    strict_inconclusive: bool = False

    @property
    def outcome(self) -> Overall:
        if self.invalid_reasons:
            return "invalid"
        outcomes = {g.outcome for g in self.gates}
        if "fail" in outcomes:
            return "fail"
        if "inconclusive" in outcomes:
            return "inconclusive"
        return "pass"

    @property
    def exit_code(self) -> int:
        outcome = self.outcome
        if outcome == "invalid":
            return exitcodes.INVALID_RUN
        if outcome == "fail" or (outcome == "inconclusive" and self.strict_inconclusive):
            return exitcodes.GATE_FAILED
        return exitcodes.OK

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pass", "fail", "inconclusive", "skipped"), 0)
        for g in self.gates:
            counts[g.outcome] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "strict_inconclusive": self.strict_inconclusive,
            "invalid_reasons": self.invalid_reasons,
            "counts": self.counts(),
            "gates": [g.as_dict() for g in self.gates],
        }


def combine(checks: Sequence[Check]) -> Outcome:
    outcomes = {c.outcome for c in checks}
    worst: Outcome
    for worst in ("fail", "inconclusive", "pass"):
        if worst in outcomes:
            return worst
    return "skipped"


def _summary(checks: Sequence[Check]) -> str:
    if len(checks) == 1:
        return checks[0].detail
    return "; ".join(f"{c.arm}: {c.detail}" for c in checks)


def _require_arm(spec: GateSpec, doc: Json, arm: str) -> None:
    if arm not in arm_names(doc):
        raise GateSpecError(
            f"gate {spec.name!r}: profile {doc['profile']!r} has no arm {arm!r} (arms: {arm_names(doc)})"
        )


def _arms(spec: GateSpec, doc: Json) -> list[str]:
    if spec.arm is not None:
        _require_arm(spec, doc, spec.arm)
        arms = [spec.arm]
    else:
        arms = arm_names(doc)
    if spec.request is not None:
        with_request = [a for a in arms if spec.request in request_names(doc, a)]
        if not with_request:
            known = sorted({n for a in arms for n in request_names(doc, a)})
            raise GateSpecError(
                f"gate {spec.name!r}: request name {spec.request!r} not recorded in profile "
                f"{doc['profile']!r} (known: {known})"
            )
        arms = with_request
    return arms


def _absolute(spec: GateSpec, doc: Json) -> list[Check]:
    assert spec.op is not None
    assert spec.threshold is not None
    checks = []
    unit = spec.metric.unit
    wanted = f"{spec.op} {format_value(spec.threshold, unit)}"
    for arm in _arms(spec, doc):
        value = arm_value(doc, arm, spec.metric, spec.request, spec.aggregate)
        if value is None:
            checks.append(Check(arm, "inconclusive", f"no data for {spec.metric.name} (wanted {wanted})"))
            continue
        ok = OPS[spec.op](value, spec.threshold)
        how = spec.aggregate + " " if spec.metric.per_round else ""
        detail = f"{how}{spec.metric.name} = {format_value(value, unit)}, wanted {wanted}"
        checks.append(Check(arm, "pass" if ok else "fail", detail, value=value))
    return checks


def _relative(spec: GateSpec, doc: Json) -> list[Check]:
    assert spec.op is not None
    assert spec.threshold is not None
    assert spec.numerator is not None
    assert spec.denominator is not None
    for arm in (spec.numerator, spec.denominator):
        _require_arm(spec, doc, arm)
    label = f"{spec.numerator}/{spec.denominator}"
    num = arm_rounds(doc, spec.numerator, spec.metric, spec.request)
    den = arm_rounds(doc, spec.denominator, spec.metric, spec.request)
    if not num.values or not den.values:
        return [Check(label, "inconclusive", "no measured rounds with data for one of the arms")]
    try:
        ci = rounds_ratio_ci(den, num, spec.metric, confidence=spec.confidence)
    except ValueError as exc:
        return [Check(label, "inconclusive", f"ratio not computable: {exc}")]
    lower_bound_decides = spec.op in (">", ">=")
    bound = ci.low if lower_bound_decides else ci.high
    which = "lower" if lower_bound_decides else "upper"
    margin = plan_margin(doc, spec.metric)
    threshold = effective_threshold(spec.op, spec.threshold, margin)
    ok = OPS[spec.op](bound, threshold)
    text = (
        f"ratio {ci.estimate:.3g} [{ci.low:.3g}, {ci.high:.3g}] ({ci.confidence:.1%} CI, "
        f"n={ci.n_b}/{ci.n_a}); CI {which} bound {bound:.3g} {'clears' if ok else 'misses'} "
        f"{spec.op} {threshold:.3g}"
    )
    if threshold != spec.threshold:
        text += f" (the plan's margin ±{margin:.0%}; {spec.threshold:g} lies inside it)"
    mde = plan_mde(doc, spec.metric)
    if mde:
        text += f"; plan MDE {mde:.0%}"
    if not ok and OPS[spec.op](ci.estimate, threshold):
        text += " (only the point estimate clears it)"
    return [Check(label, "pass" if ok else "fail", text, value=ci.estimate, low=ci.low, high=ci.high)]


def effective_threshold(op: Op, threshold: float, margin: float) -> float:
    """A relative threshold claiming a difference from 1 smaller than ``margin`` moves to the margin's edge."""
    if op in (">", ">=") and 1.0 <= threshold < 1.0 + margin:
        return 1.0 + margin
    if op in ("<", "<=") and 1.0 / (1.0 + margin) < threshold <= 1.0:
        return 1.0 / (1.0 + margin)
    return threshold


def baseline_limit(max_regression: float, margin: float, *, higher_is_better: bool) -> float:
    """The allowed current/baseline ratio: the regression allowance, but never finer than the margin."""
    allowed = max(max_regression, margin)
    return max(1.0 - allowed, 1e-9) if higher_is_better else 1.0 + allowed


def baseline_outcome(ci_low: float, ci_high: float, limit: float, *, higher_is_better: bool) -> Outcome:
    if higher_is_better:
        return "fail" if ci_high < limit else "pass" if ci_low >= limit else "inconclusive"
    return "fail" if ci_low > limit else "pass" if ci_high <= limit else "inconclusive"


def _baseline(spec: GateSpec, doc: Json, base: Json | None) -> list[Check]:
    assert spec.max_regression is not None
    arms = _arms(spec, doc)
    if base is None:
        return [Check(a, "skipped", "no baseline for this profile") for a in arms]
    higher = spec.metric.higher_is_better
    limit = baseline_limit(spec.max_regression, plan_margin(doc, spec.metric), higher_is_better=higher)
    checks = []
    for arm in arms:
        if arm not in arm_names(base):
            checks.append(Check(arm, "skipped", "arm not in the baseline"))
            continue
        cur = arm_rounds(doc, arm, spec.metric, spec.request)
        old = arm_rounds(base, arm, spec.metric, spec.request)
        if not cur.values or not old.values:
            checks.append(Check(arm, "inconclusive", "no measured rounds with data"))
            continue
        try:
            ci = rounds_ratio_ci(old, cur, spec.metric, confidence=spec.confidence)
        except ValueError as exc:
            checks.append(Check(arm, "inconclusive", f"ratio not computable: {exc}"))
            continue
        outcome = baseline_outcome(ci.low, ci.high, limit, higher_is_better=higher)
        mde = plan_mde(doc, spec.metric)
        change = (f"current/baseline {ci.estimate:.3g} [{ci.low:.3g}, {ci.high:.3g}] ({ci.confidence:.1%} CI"
                  + (f", plan MDE {mde:.0%})" if mde else ")"))
        verdict = {
            "pass": "whole CI within",
            "fail": "whole CI beyond",
            "inconclusive": "CI straddles",
        }[outcome]
        limit_text = f"{'>=' if higher else '<='} {limit:.3g}"
        checks.append(
            Check(
                arm,
                outcome,
                f"{change}; {verdict} the allowed {limit_text}",
                value=ci.estimate,
                low=ci.low,
                high=ci.high,
            )
        )
    return checks


def _profile_doc(spec: GateSpec, runset: RunSet) -> Json | None:
    if spec.profile is None:
        if len(runset.docs) != 1:
            raise GateSpecError(
                f"gate {spec.name!r}: set profile = ... (several results files given: {runset.profiles})"
            )
        return runset.docs[0]
    return runset.get(spec.profile)


def evaluate_gate(spec: GateSpec, runset: RunSet, baseline: RunSet | None = None) -> GateResult:
    doc = _profile_doc(spec, runset)
    if doc is None:
        return GateResult(spec, "skipped", f"profile {spec.profile!r} not in these results")
    if spec.kind == "absolute":
        checks = _absolute(spec, doc)
    elif spec.kind == "relative":
        checks = _relative(spec, doc)
    else:
        if baseline is None:
            return GateResult(spec, "skipped", "no baseline given (--baseline)")
        checks = _baseline(spec, doc, baseline.get(doc["profile"]))
    return GateResult(spec, combine(checks), _summary(checks), tuple(checks))


def evaluate(
    specs: Sequence[GateSpec],
    runset: RunSet,
    baseline: RunSet | None = None,
    *,
    strict_inconclusive: bool = False,
) -> Evaluation:
    return Evaluation(
        gates=[evaluate_gate(spec, runset, baseline) for spec in specs],
        invalid_reasons=runset.invalid_reasons,
        strict_inconclusive=strict_inconclusive,
    )
