"""``gates.toml``: the declarative quality gates, parsed strictly.

Each ``[[gate]]`` table is one gate of one of three kinds (the full format is in docs/reports.md)::

    [[gate]]                                   # absolute: a threshold on one arm's value
    kind = "absolute"
    profile = "io"
    arm = "io_async"                            # optional: every arm of the profile
    expr = "p95 < 200ms"                        # k6 spelling works too: "p(95)<200"

    [[gate]]                                   # relative: a ratio of two arms, judged on its CI
    kind = "relative"
    profile = "io"
    expr = "rps[io_async] / rps[io_sync] >= 3"

    [[gate]]                                   # baseline: no regression vs a saved run
    kind = "baseline"
    profile = "io"
    metric = "p95"
    max_regression = "10%"

Unknown keys, kinds, metrics and units are errors (exit 2): a typo must never silently disable a gate.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from harness import exitcodes
from harness.exitcodes import HarnessError
from reports.metrics import AGGREGATES, Aggregate, Metric, resolve
from reports.stats import DEFAULT_CONFIDENCE

Kind = Literal["absolute", "relative", "baseline"]
Op = Literal["<", "<=", ">", ">="]
KINDS: tuple[Kind, ...] = get_args(Kind)

_COMMON = {"name", "kind", "profile", "description", "request"}
ALLOWED_KEYS: dict[Kind, frozenset[str]] = {
    "absolute": frozenset(_COMMON | {"expr", "arm", "aggregate"}),
    "relative": frozenset(_COMMON | {"expr", "confidence"}),
    "baseline": frozenset(_COMMON | {"metric", "max_regression", "arm", "confidence"}),
}
REQUIRED_KEYS: dict[Kind, tuple[str, ...]] = {
    "absolute": ("expr",),
    "relative": ("expr",),
    "baseline": ("metric", "max_regression"),
}
TOP_LEVEL_KEYS = frozenset({"gate", "version"})

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_OP = r"<=|>=|<|>"
_ABSOLUTE = re.compile(
    rf"^\s*(?P<metric>[A-Za-z_][\w.()]*)\s*(?P<op>{_OP})\s*(?P<value>{_NUM})\s*(?P<unit>[A-Za-z%/]*)\s*$"
)
_RELATIVE = re.compile(
    rf"^\s*(?P<m1>[A-Za-z_][\w.()]*)\s*\[\s*(?P<a1>[^\]]+?)\s*\]\s*/\s*"
    rf"(?P<m2>[A-Za-z_][\w.()]*)\s*\[\s*(?P<a2>[^\]]+?)\s*\]\s*"
    rf"(?P<op>{_OP})\s*(?P<value>{_NUM})\s*(?P<unit>[A-Za-z%]*)\s*$"
)

# unit suffix -> factor into the metric's base unit, per metric unit
_UNITS: dict[str, dict[str, float]] = {
    "ms": {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001},
    "fraction": {"": 1.0, "%": 0.01},
    "percent": {"": 1.0, "%": 1.0},
    "rps": {"": 1.0, "rps": 1.0, "/s": 1.0},
    "count": {"": 1.0},
    "ratio": {"": 1.0, "x": 1.0, "%": 0.01},
    "mb": {"": 1.0, "mb": 1.0},
}
_RATIO_UNITS = {"": 1.0, "x": 1.0, "%": 0.01}


class GateSpecError(HarnessError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.USAGE)


@dataclass(frozen=True)
class GateSpec:
    """One parsed gate. Thresholds are in the metric's base unit (ms, fraction, rps, ratio)."""

    index: int
    name: str
    kind: Kind
    metric: Metric
    profile: str | None = None
    arm: str | None = None
    request: str | None = None
    op: Op | None = None
    threshold: float | None = None
    numerator: str | None = None
    denominator: str | None = None
    max_regression: float | None = None
    aggregate: Aggregate = "median"
    confidence: float = DEFAULT_CONFIDENCE
    expr: str | None = None
    description: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "metric": self.metric.name,
            "profile": self.profile,
            "arm": self.arm,
            "request": self.request,
            "op": self.op,
            "threshold": self.threshold,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "max_regression": self.max_regression,
            "aggregate": self.aggregate,
            "confidence": self.confidence,
            "expr": self.expr,
            "description": self.description,
        }


def _scale(value: str, unit: str, table: dict[str, float], what: str) -> float:
    factor = table.get(unit.lower())
    if factor is None:
        allowed = ", ".join(repr(u) for u in table if u) or "none"
        raise ValueError(f"unit {unit!r} is not valid for {what} (allowed: {allowed}, or no unit)")
    return float(value) * factor


def _metric(name: str) -> Metric:
    try:
        return resolve(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def parse_absolute(expr: str) -> tuple[Metric, Op, float]:
    m = _ABSOLUTE.match(expr)
    if not m:
        raise ValueError(f"expr {expr!r} is not '<metric> <op> <number>[unit]', e.g. 'p95 < 200ms'")
    metric = _metric(m["metric"])
    value = _scale(m["value"], m["unit"], _UNITS[metric.unit], f"metric {metric.name}")
    return metric, cast(Op, m["op"]), value


def parse_relative(expr: str) -> tuple[Metric, str, str, Op, float]:
    m = _RELATIVE.match(expr)
    if not m:
        raise ValueError(
            f"expr {expr!r} is not '<metric>[<arm>] / <metric>[<arm>] <op> <number>', "
            "e.g. 'rps[io_async] / rps[io_sync] >= 3'"
        )
    metric, other = _metric(m["m1"]), _metric(m["m2"])
    if metric != other:
        raise ValueError(f"expr {expr!r} divides {metric.name} by {other.name}; a ratio needs the same metric")
    if not metric.per_round:
        raise ValueError(f"relative gates need a per-round metric (rps, p50..p999, ...), not {metric.name}")
    value = _scale(m["value"], m["unit"], _RATIO_UNITS, "a ratio")
    if value <= 0:
        raise ValueError("a ratio threshold must be positive")
    return metric, m["a1"], m["a2"], cast(Op, m["op"]), value


def parse_fraction(raw: object, what: str) -> float:
    """``"10%"`` -> 0.1; a bare number is taken as a fraction (0.1)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f"{what} must be a string like '10%' or a number, not {raw!r}")
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{what} {raw!r} is not a number or percentage like '10%'") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


def _str(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{key} must be a non-empty string")
    return value


def parse_gate(index: int, table: object) -> GateSpec:
    if not isinstance(table, dict):
        raise ValueError("each [[gate]] must be a table")
    kind = table.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    kind = cast(Kind, kind)
    unknown = sorted(set(table) - ALLOWED_KEYS[kind])
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for a {kind} gate (allowed: {sorted(ALLOWED_KEYS[kind])})")
    missing = [k for k in REQUIRED_KEYS[kind] if k not in table]
    if missing:
        raise ValueError(f"a {kind} gate needs {missing}")
    for key in ("name", "profile", "description", "request", "arm", "expr", "metric"):
        _str(table, key)
    confidence = table.get("confidence", DEFAULT_CONFIDENCE)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), not {confidence!r}")
    common: dict[str, Any] = {
        "index": index,
        "kind": kind,
        "profile": table.get("profile"),
        "request": table.get("request"),
        "description": table.get("description"),
        "confidence": float(confidence),
    }
    if kind == "absolute":
        metric, op, value = parse_absolute(table["expr"])
        aggregate = table.get("aggregate", "median")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {aggregate!r}")
        if "aggregate" in table and not metric.per_round:
            raise ValueError(f"aggregate applies to per-round metrics only; {metric.name} is pooled over rounds")
        spec = GateSpec(
            metric=metric,
            op=op,
            threshold=value,
            arm=table.get("arm"),
            expr=table["expr"],
            aggregate=cast(Aggregate, aggregate),
            name="",
            **common,
        )
    elif kind == "relative":
        metric, num, den, op, value = parse_relative(table["expr"])
        spec = GateSpec(
            metric=metric,
            op=op,
            threshold=value,
            numerator=num,
            denominator=den,
            expr=table["expr"],
            name="",
            **common,
        )
    else:
        metric = _metric(table["metric"])
        if not metric.per_round:
            raise ValueError(f"baseline gates need a per-round metric (rps, p50..p999, ...), not {metric.name}")
        regression = parse_fraction(table["max_regression"], "max_regression")
        if metric.higher_is_better and regression >= 1:
            raise ValueError(f"max_regression for {metric.name} must be below 100%")
        spec = GateSpec(metric=metric, max_regression=regression, arm=table.get("arm"), name="", **common)
    if spec.request is not None and not spec.metric.by_name:
        raise ValueError(f"metric {spec.metric.name} is not recorded per request name (request = ...)")
    name = table.get("name") or default_name(spec)
    return replace(spec, name=name)


def default_name(spec: GateSpec) -> str:
    where = "/".join(p for p in (spec.profile, spec.arm, spec.request) if p)
    prefix = f"{where}: " if where else ""
    if spec.kind == "baseline":
        return f"{prefix}{spec.metric.name} regresses at most {spec.max_regression:.0%} vs baseline"
    return f"{prefix}{spec.expr}"


def parse_gates(text: str, *, source: str = "gates.toml") -> list[GateSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GateSpecError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise GateSpecError(f"{source}: unknown top-level key(s) {unknown}; gates go in [[gate]] tables")
    if data.get("version", 1) != 1:
        raise GateSpecError(f"{source}: version {data['version']!r} is not supported (only 1)")
    tables = data.get("gate", [])
    if not isinstance(tables, list):
        raise GateSpecError(f"{source}: 'gate' must be an array of tables: write [[gate]], not [gate]")
    specs: list[GateSpec] = []
    for i, table in enumerate(tables, start=1):
        label = f"gate #{i}" + (f" ({table['name']!r})" if isinstance(table, dict) and "name" in table else "")
        try:
            specs.append(parse_gate(i, table))
        except ValueError as exc:
            raise GateSpecError(f"{source}: {label}: {exc}") from None
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GateSpecError(f"{source}: gate names must be unique; repeated: {dupes}")
    return specs


def load_gates(path: Path | str) -> list[GateSpec]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GateSpecError(f"cannot read gates file {path}: {exc.strerror or exc}") from exc
    return parse_gates(text, source=str(path))
