"""The metric vocabulary gates and reports speak, and how each metric is read from results.

Two families:

* per-round metrics (``rps``, ``p50`` .. ``p999``, resource usage) have one value per measured
  round; they can be compared with exact ratio CIs and summarised by an aggregate (median);
* pooled metrics (``error_rate``, ``rate_limited_fraction``, counts, ``measured_over_bound``) are
  computed once over all measured rounds of an arm.

k6 spellings are accepted as aliases: ``p(95)``, ``med``, ``http_req_failed``, ``http_reqs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reports.plans import plan_for
from reports.results import Json, measured_rounds
from reports.stats import RatioCI, ratio_ci

Unit = Literal["ms", "rps", "fraction", "count", "ratio", "percent", "mb"]
Aggregate = Literal["median", "mean", "min", "max"]
AGGREGATES: tuple[Aggregate, ...] = ("median", "mean", "min", "max")

# '0.5' .. '0.999' keys of ``percentiles_ms``, by metric name.
PERCENTILE_KEYS: dict[str, str] = {
    "p50": "0.5",
    "p75": "0.75",
    "p90": "0.9",
    "p95": "0.95",
    "p99": "0.99",
    "p999": "0.999",
}
_ROUND_FIELDS = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    per_round: bool
    higher_is_better: bool
    by_name: bool  # also available per request name (``by_name`` in rounds)
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("rps", "rps", True, True, True, "requests per second of a round"),
        *(
            Metric(p, "ms", True, False, p in _ROUND_FIELDS, f"{PERCENTILE_KEYS[p]} latency quantile, ms")
            for p in PERCENTILE_KEYS
        ),
        Metric("server_cpu_percent", "percent", True, False, False, "server CPU usage of a round"),
        Metric("generator_cpu_percent", "percent", True, False, False, "load-generator CPU usage of a round"),
        Metric("server_rss_mb", "mb", True, False, False, "server resident memory, MB"),
        Metric("error_rate", "fraction", False, False, True, "errors (not expected 429s) / requests"),
        Metric("rate_limited_fraction", "fraction", False, False, False, "429 responses / requests"),
        Metric("checks_failed", "count", False, False, False, "failed correctness checks, summed"),
        Metric("errors", "count", False, False, True, "errors (not expected 429s), summed"),
        Metric("requests", "count", False, True, True, "requests, summed"),
        Metric("measured_over_bound", "ratio", False, True, False, "median rps / the arm's theoretical bound"),
    )
}

COUNTER_PREFIX = "counters."
ALIASES: dict[str, str] = {
    "med": "p50",
    "median": "p50",
    "p99.9": "p999",
    "http_req_failed": "error_rate",
    "http_reqs": "rps",
    "rate": "rps",
    "throughput": "rps",
    "rate_limited": "rate_limited_fraction",
}
_K6_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")


def resolve(name: str) -> Metric:
    """The metric called ``name`` (or a k6 alias of it); ``KeyError`` with the vocabulary if unknown."""
    key = name.strip()
    m = _K6_PERCENTILE.match(key)
    if m:
        key = "p" + m.group(1).replace(".", "")
    key = ALIASES.get(key, key)
    if key.startswith(COUNTER_PREFIX) and len(key) > len(COUNTER_PREFIX):
        # A locustfile's own counter (``count("jobs_lost")`` in the profile): summed over measured rounds.
        return Metric(key, "count", False, False, False, "a profile counter, summed over measured rounds")
    if key not in METRICS:
        raise KeyError(
            f"unknown metric {name!r}; known: {', '.join(METRICS)}, {COUNTER_PREFIX}NAME "
            "(k6 aliases: p(95), med, http_req_failed, http_reqs)"
        )
    return METRICS[key]


def _round_value(round_: Mapping[str, Any], metric: Metric, request: str | None) -> float | None:
    if request is not None:
        entry = (round_.get("by_name") or {}).get(request)
        if entry is None:
            return None
        value = entry.get("rps" if metric.name == "rps" else _ROUND_FIELDS[metric.name])
    elif metric.name in PERCENTILE_KEYS:
        field = _ROUND_FIELDS.get(metric.name)
        value = round_.get(field) if field else None
        if value is None:
            value = round_["percentiles_ms"].get(PERCENTILE_KEYS[metric.name])
    else:
        value = round_.get(metric.name)
    return None if value is None else float(value)


def round_values(doc: Json, arm: str, metric: Metric, request: str | None = None) -> list[float]:
    """Per-round values of a per-round metric over the measured rounds of ``arm`` (nulls dropped)."""
    if not metric.per_round:
        raise ValueError(f"{metric.name} is not a per-round metric")
    values = [_round_value(r, metric, request) for r in measured_rounds(doc, arm)]
    return [v for v in values if v is not None]


def latency_resolution(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """The coarsest percentile resolution among ``rows``; None (Locust's buckets) if any lacks one."""
    values = [r.get("latency_resolution") for r in rows]
    if not values or any(v is None for v in values):
        return None
    return max(float(v) for v in values if v is not None)


def round_resolution(doc: Json, arm: str, metric: Metric, request: str | None = None) -> float | None:
    """The relative resolution of ``round_values(doc, arm, metric, request)``, for ``ratio_ci(resolutions=)``.

    A round's own percentiles come from ``load.latency``'s 0.5 % buckets when it records
    ``latency_resolution``; per-request percentiles and older results are Locust's, rounded to its
    buckets (None: ``ratio_ci`` widens by those). Not a percentile: None, and unused.
    """
    if metric.name not in PERCENTILE_KEYS or request is not None:
        return None
    return latency_resolution(measured_rounds(doc, arm))


@dataclass(frozen=True)
class ArmRounds:
    """One arm's per-round values of a metric and the resolution they were recorded at: what
    ``ratio_ci`` takes of each side, read together so that one side's values never meet the other
    side's resolution."""

    values: list[float]
    resolution: float | None


def arm_rounds(doc: Json, arm: str, metric: Metric, request: str | None = None) -> ArmRounds:
    """``round_values`` and ``round_resolution`` of one arm, as a pair."""
    return ArmRounds(round_values(doc, arm, metric, request), round_resolution(doc, arm, metric, request))


def rounds_ratio_ci(a: ArmRounds, b: ArmRounds, metric: Metric, *, confidence: float) -> RatioCI:
    """``ratio_ci`` of ``b`` over ``a``, each side at its own resolution (percentiles bucketed)."""
    return ratio_ci(a.values, b.values, confidence=confidence, bucketed=metric.unit == "ms",
                    resolutions=(a.resolution, b.resolution))


def _aggregate(values: list[float], how: Aggregate) -> float:
    funcs: dict[Aggregate, Callable[[Any], Any]] = {
        "median": np.median,
        "mean": np.mean,
        "min": np.min,
        "max": np.max,
    }
    return float(funcs[how](np.asarray(values, dtype=float)))


def _sum(rounds: list[Json], field: str, request: str | None) -> int:
    if field.startswith(COUNTER_PREFIX):
        name = field.removeprefix(COUNTER_PREFIX)
        return sum(int((r.get("counters") or {}).get(name) or 0) for r in rounds)
    if request is None:
        return sum(int(r.get(field) or 0) for r in rounds)
    sub = "failures" if field == "errors" else field
    return sum(int(((r.get("by_name") or {}).get(request) or {}).get(sub) or 0) for r in rounds)


def bound_rps_values(doc: Json, arm: str) -> list[float]:
    """Per-round rps to set against the arm's bound: for a rate-limit bound only the accepted (non-429)
    requests count, as the load runner's own ``measured_over_bound`` (``load.analysis.accepted_rps``)."""
    bound = next((a["bound"] for a in doc["arms"] if a["name"] == arm), None)
    if bound is None or bound.get("kind") != "rate_limit":
        return round_values(doc, arm, METRICS["rps"])
    return [float(r["rps"]) * (1.0 - float(r["rate_limited"]) / float(r["requests"])) if r["requests"] else 0.0
            for r in measured_rounds(doc, arm)]


def arm_value(
    doc: Json, arm: str, metric: Metric, request: str | None = None, aggregate: Aggregate = "median"
) -> float | None:
    """One number for ``metric`` of ``arm``: an aggregate of rounds, or a pooled value. None: no data."""
    if metric.per_round:
        values = round_values(doc, arm, metric, request)
        return _aggregate(values, aggregate) if values else None
    rounds = measured_rounds(doc, arm)
    if not rounds:
        return None
    if metric.name == "measured_over_bound":
        bound = next(a["bound"] for a in doc["arms"] if a["name"] == arm)
        rps = bound_rps_values(doc, arm)
        return None if bound is None or not rps else float(np.median(rps)) / float(bound["rps"])
    if metric.unit == "count":
        return float(_sum(rounds, metric.name, request))
    requests = _sum(rounds, "requests", request)
    if requests == 0:
        return None
    numerator = _sum(rounds, "errors" if metric.name == "error_rate" else "rate_limited", request)
    return numerator / requests


def request_names(doc: Json, arm: str) -> list[str]:
    names: dict[str, None] = {}
    for r in measured_rounds(doc, arm):
        names.update(dict.fromkeys(r.get("by_name") or {}))
    return list(names)


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.3g} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "fraction":
        return f"{value * 100:.3g}%"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "rps":
        return f"{value:.1f} rps"
    if unit == "mb":
        return f"{value:.1f} MB"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.3g}"


def detectable(comparison: Mapping[str, Any]) -> str:
    """What a comparison could have seen: its plan's minimum detectable effect and equivalence margin.
    Results written before plans existed carry neither: say so rather than imply a figure."""
    mde, margin = comparison.get("mde"), comparison.get("margin")
    if mde is None or margin is None:
        return "MDE not recorded"
    return f"MDE {mde:.0%}, margin ±{margin:.0%}"


# Which of the plan's declared margins (reports.plans, per compared metric) speaks for a gate metric.
_MARGIN_KEYS = {"rps": "rps", "p50": "p95_ms", "p75": "p95_ms", "p90": "p95_ms", "p95": "p95_ms",
                "p99": "p99_ms", "p999": "p99_ms"}


def _plan_figure(doc: Json, metric: Metric, which: str) -> float:
    key = _MARGIN_KEYS.get(metric.name)
    if key is None:
        return 0.0
    figures = (doc["config"].get("plan") or {}).get(which)
    if figures is None:
        plan = plan_for(bool(doc["config"].get("quick")), bool(doc["config"].get("aa")))
        figures = plan.margins if which == "margins" else plan.mdes
    return float(figures.get(key, 0.0))


def plan_margin(doc: Json, metric: Metric) -> float:
    """The practical margin of the plan ``doc`` was measured with, for ``metric`` (0: none declared).

    Results record their plan (``config.plan``); older results only say whether they were quick."""
    return _plan_figure(doc, metric, "margins")


def plan_mde(doc: Json, metric: Metric) -> float:
    """The minimum detectable effect of the plan ``doc`` was measured with, for ``metric`` (0: none)."""
    return _plan_figure(doc, metric, "mdes")
