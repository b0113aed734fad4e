"""From rounds to conclusions: per-arm summaries, theoretical bounds, B/A ratios with exact
confidence intervals (``reports.stats.ratio_ci``), generator saturation and run validity.

A comparison has one of four verdicts, judged on its interval and the plan's practical margin m
(``reports.plans``): *equivalent* (the two one-sided tests at 5% show the ratio inside [1/(1+m), 1+m]:
the exact interval whose two sides hold at least 95% each, ``equivalence`` in the comparison, lies
inside the margin, so any difference is smaller than the plan can call one), *numerator higher* /
*lower* (the 95% interval excludes 1 and equivalence is not shown), or *no significant difference*
(the interval holds 1 and reaches past the margin: the run can't tell). So a 1% drift measured
precisely is "equivalent", never a verdict. A/A validity asks for *equivalent* on every metric.

Latency percentiles are compared per round, rounds being the independent units; a round's
percentile counts only when it rests on at least ``MIN_TAIL_REQUESTS`` requests beyond it (p99: 1000
requests in the round), since Locust's p99 of 300 requests is the 3rd-slowest request, in coarse
buckets. Rounds below that are left out of the comparison, which says so.

Pure functions over the round dicts of ``results.json``, so they are tested on synthetic rounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.metrics import latency_resolution
from reports.plans import DEFAULT, Plan
from reports.plans import METRICS as COMPARED_METRICS
from reports.stats import (  # noqa: F401  (verdict_from, EQUIVALENT: part of this module's interface)
    DEFAULT_CONFIDENCE,
    DIFFERENT,
    EQUIVALENCE_ALPHA,
    EQUIVALENT,
    NO_DIFFERENCE,
    decide,
    equivalence_ci,
    median,
    ratio_ci,
    verdict_from,
)

SATURATION_CPU_PERCENT = 90.0
SATURATED_REASON = "invalid: load generator saturated"
MAX_ERROR_RATE = 0.01
NOISY_CPU_PERCENT = 25.0  # other processes' CPU during a round, in % of one core
METRICS = COMPARED_METRICS
PERCENTILE_OF = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
MIN_TAIL_REQUESTS = 10  # requests beyond a percentile for a round's percentile to count
Round = Mapping[str, Any]


def is_saturated(generator_cpu_percent: float, threshold: float = SATURATION_CPU_PERCENT) -> bool:
    """A Locust process is single-threaded: near 100% of one core it can't send any faster."""
    return generator_cpu_percent >= threshold


# -- theoretical bounds -------------------------------------------------------------------------

def littles_law_bound(users: int, latency_s: float) -> dict[str, Any]:
    """Closed loop, no think time: throughput <= concurrency / latency (Little's law)."""
    if users < 1 or latency_s <= 0:
        raise ValueError("need users >= 1 and latency > 0")
    return {"kind": "littles_law", "rps": users / latency_s,
            "explanation": f"Little's law: {users} users / {latency_s * 1000:g} ms = {users / latency_s:.0f} rps"}


def thread_pool_bound(users: int, threadpool: int, latency_s: float) -> dict[str, Any]:
    """Blocking handlers hold a thread each: at most min(users, threads) in flight."""
    if users < 1 or threadpool < 1 or latency_s <= 0:
        raise ValueError("need users, threadpool >= 1 and latency > 0")
    busy = min(users, threadpool)
    return {"kind": "thread_pool", "rps": busy / latency_s,
            "explanation": f"min({users} users, {threadpool} threads) / {latency_s * 1000:g} ms = "
                           f"{busy / latency_s:.0f} rps"}


def rate_limit_bound(amount: int, per_seconds: float) -> dict[str, Any]:
    if amount < 1 or per_seconds <= 0:
        raise ValueError("need a positive limit")
    rps = amount / per_seconds
    return {"kind": "rate_limit", "rps": rps,
            "explanation": f"declared limit {amount} per {per_seconds:g} s = {rps:g} accepted rps"}


def expected_429_fraction(limit_rps: float, offered_rps: float) -> float:
    """Share of requests over the limit when ``offered_rps`` is sustained: 1 - limit/offered."""
    if offered_rps <= 0:
        return 0.0
    return max(0.0, min(1.0, 1.0 - limit_rps / offered_rps))


def bound_for(spec: Mapping[str, Any] | None, *, users: int) -> dict[str, Any] | None:
    """The bound of an arm from its declared spec (``harness.target.Bound``): the analysis knows the
    kinds of ceiling, not the experiments or the app."""
    if not spec:
        return None
    kind = spec.get("kind")
    latency_s = float(spec.get("latency_ms") or 0) / 1000
    if kind == "littles_law":
        return littles_law_bound(int(spec.get("users") or users), latency_s)
    if kind == "thread_pool":
        return thread_pool_bound(int(spec.get("users") or users), int(spec["threads"]), latency_s)
    if kind in ("declared_rate", "rate_limit"):
        rps = float(spec["rps"])
        if rps <= 0:
            raise ValueError("need a positive declared rate")
        return {"kind": "rate_limit", "rps": rps, "explanation": f"declared limit {rps:g} accepted rps"}
    raise ValueError(f"unknown bound kind {kind!r}")


# -- summaries and comparisons --------------------------------------------------------------------

def measured(rounds: Sequence[Round], arm: str) -> list[Round]:
    """An arm's measured rounds; a round ``excluded`` (a remote worker lost mid-round) is not one."""
    return [r for r in rounds if r["arm"] == arm and not r["warmup"] and not r.get("excluded")]


def accepted_rps(r: Round) -> float:
    """Throughput of requests that were not rate-limited."""
    if not r["requests"]:
        return 0.0
    return float(r["rps"]) * (1.0 - float(r["rate_limited"]) / float(r["requests"]))


def _median_or_none(values: Sequence[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return median(present) if present else None


def summarize(rounds: Sequence[Round], arms: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        rs = measured(rounds, arm["name"])
        requests = sum(int(r["requests"]) for r in rs)
        s: dict[str, Any] = {
            "rounds": len(rs),
            "rps_median": median([float(r["rps"]) for r in rs]) if rs else 0.0,
            "p50_ms_median": _median_or_none([r["p50_ms"] for r in rs]),
            "p95_ms_median": _median_or_none([r["p95_ms"] for r in rs]),
            "p99_ms_median": _median_or_none([r["p99_ms"] for r in rs]),
            "error_rate": sum(int(r["errors"]) for r in rs) / requests if requests else 0.0,
            "rate_limited_fraction": sum(int(r["rate_limited"]) for r in rs) / requests if requests else 0.0,
            "measured_over_bound": None,
            "generator_cpu_percent_max": max((float(r["generator_cpu_percent"]) for r in rs), default=0.0),
            "server_cpu_percent_median": median([float(r["server_cpu_percent"]) for r in rs]) if rs else 0.0,
            "checks_failed": sum(int(r.get("checks_failed", 0)) for r in rs),
        }
        bound = arm.get("bound")
        if bound and rs:
            value = (median([accepted_rps(r) for r in rs]) if bound["kind"] == "rate_limit"
                     else s["rps_median"])
            if bound["kind"] == "rate_limit":
                s["accepted_rps_median"] = value
            s["measured_over_bound"] = value / float(bound["rps"])
        if arm.get("expected_429_fraction") is not None:
            s["expected_429_fraction"] = arm["expected_429_fraction"]
            offered = s["rps_median"]
            if bound and bound["kind"] == "rate_limit" and offered > 0:
                # The same formula on the load actually offered, should the generator fall short.
                s["expected_429_fraction_at_measured_load"] = expected_429_fraction(bound["rps"], offered)
        out[arm["name"]] = s
    return out


def min_requests(metric: str) -> int:
    """Requests a round needs for its ``metric`` to count (p99: 1000, p95: 200; rps: 1)."""
    q = PERCENTILE_OF.get(metric)
    return 1 if q is None else round(MIN_TAIL_REQUESTS / (1.0 - q))


def compare(rounds: Sequence[Round], numerator: str, denominator: str, metric: str, *,
            invalid_reason: str | None = None, seed: int = 0,
            confidence: float = DEFAULT_CONFIDENCE, plan: Plan = DEFAULT) -> dict[str, Any]:
    """Hodges-Lehmann ratio numerator/denominator of ``metric`` over rounds, its exact CI and verdict."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    need = min_requests(metric)
    rows_a, rows_b = measured(rounds, denominator), measured(rounds, numerator)
    a = [r[metric] for r in rows_a if int(r["requests"]) >= need]
    b = [r[metric] for r in rows_b if int(r["requests"]) >= need]
    dropped = len(rows_a) + len(rows_b) - len(a) - len(b)
    doc: dict[str, Any] = {"metric": metric, "numerator": numerator, "denominator": denominator,
                           "estimate": 0.0, "low": 0.0, "high": 0.0, "confidence": confidence,
                           "n_numerator": len(b), "n_denominator": len(a),
                           "margin": plan.margin(metric), "mde": plan.mde(metric), "plan": plan.name,
                           "method": "hodges-lehmann, exact mann-whitney interval on log values"}
    if dropped:
        doc["note"] = f"{dropped} round(s) with fewer than {need} requests left out (too few for {metric})"
    if not a or not b:
        doc["verdict"] = invalid_reason or (f"invalid: not enough data (no round with {need}+ requests)"
                                            if dropped else "invalid: not enough data (no measured rounds)")
        return doc
    if any(v is None or v <= 0 for v in (*a, *b)):
        doc["verdict"] = "invalid: not enough data (a round without successful requests)"
        return doc
    resolutions = (latency_resolution(rows_a), latency_resolution(rows_b))
    ci = ratio_ci(a, b, confidence=confidence, seed=seed, bucketed=metric in PERCENTILE_OF, resolutions=resolutions)
    eq = equivalence_ci(a, b, bucketed=metric in PERCENTILE_OF, resolutions=resolutions)
    doc.update(estimate=ci.estimate, low=ci.low, high=ci.high, confidence=ci.confidence,
               equivalence={"low": eq.low, "high": eq.high, "confidence": eq.confidence,
                            "alpha": EQUIVALENCE_ALPHA})
    doc["verdict"] = invalid_reason or decide(ci, plan.margin(metric), eq)
    return doc


def comparisons_for(rounds: Sequence[Round], arm_names: Sequence[str], *, invalid_reason: str | None,
                    seed: int = 0, metrics: Sequence[str] = METRICS, plan: Plan = DEFAULT) -> list[dict[str, Any]]:
    """Every later arm against the first (B/A, C/A, ...)."""
    if len(arm_names) < 2:
        return []
    base = arm_names[0]
    return [compare(rounds, other, base, m, invalid_reason=invalid_reason, seed=seed, plan=plan)
            for other in arm_names[1:] for m in metrics]


def validity(rounds: Sequence[Round], summary: Mapping[str, Mapping[str, Any]], *,
             aa: bool = False, comparisons: Sequence[Mapping[str, Any]] = (),
             max_error_rate: float = MAX_ERROR_RATE) -> dict[str, Any]:
    reasons: list[str] = []
    saturated = [r for r in rounds if r["saturated"] and not r["warmup"]]
    if saturated:
        reasons.append(SATURATED_REASON)
    excluded = [r for r in rounds if r.get("excluded") and not r["warmup"]]
    for name, s in summary.items():
        if not s.get("rounds"):
            reasons.append(f"invalid: arm {name} has no measured rounds")
        elif s["error_rate"] > max_error_rate:
            reasons.append(f"invalid: arm {name} error rate {s['error_rate']:.2%} above {max_error_rate:.0%}")
    idle = [r for r in rounds if not r["warmup"] and not r.get("excluded") and int(r["requests"]) == 0]
    if idle:
        # A request still waiting when its round ends is counted nowhere, so a hung service shows 0
        # requests and 0 errors: without this a run against it read "valid" and exited 0.
        reasons.append(f"invalid: {len(idle)} measured round(s) completed no request ("
                       + ", ".join(f"round {r['index']} ({r['arm']})" for r in idle[:5])
                       + "): the service hung or could not keep up; requests still waiting when a round "
                         "ends are not counted, so errors read 0")
    if aa and not saturated:
        # Equivalence, not "the CI holds 1": two processes are never exactly alike, and a wide
        # interval that holds 1 shows nothing. The arms must be shown the same within the margin.
        # Differences are shown with the significance interval, equivalence with the TOST one.
        def what(cs: Sequence[Mapping[str, Any]], tost: bool = False) -> str:
            def interval(c: Mapping[str, Any]) -> str:
                iv = (c.get("equivalence") or c) if tost else c
                return f"[{iv['low']:.3f}, {iv['high']:.3f}] at {iv['confidence']:.1%}"

            return ", ".join(f"{c['metric']} {c['estimate']:.3f} {interval(c)} "
                             f"(margin ±{c.get('margin', 0):.0%})" for c in cs)

        differing = [c for c in comparisons if c["verdict"] in DIFFERENT]
        unshown = [c for c in comparisons if c["verdict"] == NO_DIFFERENCE]
        if differing:
            reasons.append(f"invalid: A/A arms differ ({what(differing)}); the set-up is too noisy to trust")
        if unshown:
            reasons.append(f"invalid: A/A arms not shown equivalent ({what(unshown, tost=True)}); the rounds are "
                           "too noisy for this plan's margin: more rounds, or a quieter machine")
    notes = []
    if saturated:
        notes.append(f"{len(saturated)} measured round(s) with generator CPU >= {SATURATION_CPU_PERCENT:.0f}%: "
                     "add --processes or a bigger generator host")
    if excluded:
        notes.append(f"{len(excluded)} measured round(s) left out: " + "; ".join(
            f"round {r['index']} ({r['arm']}): {r['excluded']}" for r in excluded))
    restarted = [r for r in rounds if not r["warmup"] and r.get("server_processes_changed")]
    if restarted:
        # Noted, not left out: a deployment that recycles workers pays for it, and hiding those rounds
        # would hide a crash loop too. The note says why one round can sit far below the others.
        notes.append(f"{len(restarted)} measured round(s) saw server processes replaced (a worker recycled, "
                     "crashed or still booting): " + "; ".join(
                         f"round {r['index']} ({r['arm']}): "
                         f"{len(r['server_processes_changed']['gone'])} gone, "
                         f"{len(r['server_processes_changed']['new'])} new" for r in restarted))
    busy = [r for r in rounds if not r["warmup"] and float(r.get("other_cpu_percent", 0)) >= NOISY_CPU_PERCENT]
    if busy:
        notes.append(f"{len(busy)} measured round(s) shared the machine with other processes using >= "
                     f"{NOISY_CPU_PERCENT:.0f}% of a core: expect wide intervals")
    return {"valid": not reasons, "reasons": reasons, "notes": notes}


def aggregate_checks(rounds: Sequence[Round]) -> dict[str, float]:
    """Sum profile counters (cache_mismatches, checks_failed, ...) over measured rounds."""
    totals: dict[str, float] = {}
    for r in rounds:
        if r["warmup"]:
            continue
        for key, value in (r.get("counters") or {}).items():
            if key == "users_ready":
                continue
            totals[key] = totals.get(key, 0) + float(value)
    return totals
