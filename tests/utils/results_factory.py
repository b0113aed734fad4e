"""Synthetic, schema-valid load results for report and gate tests.

``make_results`` builds a ``results.json`` document (format version 1, see
``load/results.schema.json``) with interleaved rounds whose rps/latency come from a seeded numpy
generator: every arm has a controllable mean and relative noise, so a test can construct
"clearly 5x faster", "barely 3x on the point estimate" or "identical (A/A)" experiments.
``make_bench`` builds a pytest-benchmark JSON document the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PERCENTILE_FACTORS = {"0.5": 1.0, "0.75": 1.3, "0.9": 1.8, "0.95": 2.5, "0.99": 4.0, "0.999": 6.0}


@dataclass
class Arm:
    """One arm: its true means and noise; every round draws around them."""

    rps: float = 100.0
    p50_ms: float = 20.0
    noise: float = 0.05  # relative standard deviation of rps and latency per round
    error_rate: float = 0.0
    rate_limited_fraction: float = 0.0
    bound_rps: float | None = None
    bound_kind: str = "littles_law"
    server: str = "uvicorn"
    workers: int = 1
    requests_by_name: Mapping[str, float] = field(default_factory=lambda: {"GET /work": 1.0})
    values: Sequence[float] | None = None  # exact per-round rps instead of random draws


def _positive(x: float) -> float:
    return max(x, 1e-3)


def make_round(
    index: int, name: str, arm: Arm, rng: np.random.Generator, *, warmup: bool, round_seconds: float
) -> dict[str, Any]:
    rps = _positive(arm.rps * (1.0 + arm.noise * rng.standard_normal()))
    scale = _positive(1.0 + arm.noise * rng.standard_normal())
    percentiles = {k: round(arm.p50_ms * f * scale, 3) for k, f in PERCENTILE_FACTORS.items()}
    requests = max(1, round(rps * round_seconds))
    errors = round(requests * arm.error_rate)
    limited = round(requests * arm.rate_limited_fraction)
    by_name = {}
    for req, share in arm.requests_by_name.items():
        n = max(1, round(requests * share))
        by_name[req] = {
            "requests": n,
            "failures": round(n * arm.error_rate),
            "rps": round(rps * share, 3),
            "p50_ms": percentiles["0.5"],
            "p95_ms": percentiles["0.95"],
            "p99_ms": percentiles["0.99"],
        }
    return {
        "index": index,
        "arm": name,
        "warmup": warmup,
        "started_at": f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}Z",
        "duration_s": round_seconds,
        "requests": requests,
        "rps": round(rps, 3),
        "p50_ms": percentiles["0.5"],
        "p95_ms": percentiles["0.95"],
        "p99_ms": percentiles["0.99"],
        "percentiles_ms": percentiles,
        "errors": errors,
        "rate_limited": limited,
        "checks_failed": 0,
        "generator_cpu_percent": round(float(30 + 5 * rng.random()), 2),
        "server_cpu_percent": round(float(60 + 10 * rng.random()), 2),
        "server_rss_mb": round(float(80 + rng.random()), 2),
        "saturated": False,
        "by_name": by_name,
    }


def with_measured(doc: dict[str, Any], field: str, values: Mapping[str, Sequence[float]], *,
                  resolution: float | None) -> dict[str, Any]:
    """``doc`` with ``field`` of each arm's measured rounds set to ``values[arm]`` in round order, and
    ``latency_resolution`` recorded as ``resolution`` in every round (None: none, as before load.latency)."""
    left = {arm: iter(v) for arm, v in values.items()}
    for row in doc["rounds"]:
        if not row["warmup"] and row["arm"] in left:
            row[field] = next(left[row["arm"]])
        row.pop("latency_resolution", None)
        if resolution is not None:
            row["latency_resolution"] = resolution
    return doc


def make_results(
    arms: Mapping[str, Arm] | Sequence[str] = ("io_async", "io_sync"),
    *,
    profile: str = "io",
    rounds: int = 8,
    warmup_rounds: int = 1,
    seed: int = 0,
    valid: bool = True,
    reasons: Sequence[str] = (),
    run_id: str | None = None,
    round_seconds: float = 10.0,
    comparisons: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A valid results document; ``arms`` maps arm name -> :class:`Arm` (names alone get defaults)."""
    specs: dict[str, Arm] = dict(arms) if isinstance(arms, Mapping) else {a: Arm() for a in arms}
    rng = np.random.default_rng(seed)
    out_rounds: list[dict[str, Any]] = []
    for r in range(warmup_rounds + rounds):
        for name, arm in specs.items():
            row = make_round(len(out_rounds), name, arm, rng, warmup=r < warmup_rounds, round_seconds=round_seconds)
            if arm.values is not None and r >= warmup_rounds:
                row["rps"] = float(arm.values[(r - warmup_rounds) % len(arm.values)])
            out_rounds.append(row)
    doc: dict[str, Any] = {
        "format": "fastapi-harness.results",
        "format_version": 1,
        "run_id": run_id or f"test-{profile}-{seed}",
        "profile": profile,
        "description": f"synthetic {profile} experiment",
        "created_at": "2026-01-01T00:00:00Z",
        "environment": {
            "cpu_count": 4,
            "python": "3.11.2",
            "platform": "Linux-6.1-x86_64",
            "packages": {"fastapi": "0.163.2", "uvicorn": "0.54.0", "locust": "2.47.0"},
            "backend": "sqlite",
            "git_sha": "0123456789abcdef0123456789abcdef01234567",
            "hostname": "ci-runner",
        },
        "config": {
            "users": 50,
            "spawn_rate": 50.0,
            "round_seconds": round_seconds,
            "rounds_per_arm": rounds,
            "warmup_seconds": 5.0,
            "processes": 1,
            "seed": seed,
            "quick": False,
            "aa": False,
            "order": list(specs),
        },
        "arms": [
            {
                "name": name,
                "description": f"arm {name}",
                "server": arm.server,
                "workers": arm.workers,
                "app_env": {"REFAPP_ENV": "test"},
                "bound": None
                if arm.bound_rps is None
                else {
                    "kind": arm.bound_kind,
                    "rps": arm.bound_rps,
                    "explanation": f"{arm.bound_kind} bound of {arm.bound_rps} rps",
                },
                "expected_429_fraction": arm.rate_limited_fraction or None,
            }
            for name, arm in specs.items()
        ],
        "rounds": out_rounds,
        "comparisons": list(comparisons) if comparisons is not None else _comparisons(specs),
        "validity": {"valid": valid, "reasons": list(reasons)},
        "checks": {"cache_mismatches": 0},
    }
    doc["summary"] = _summary(doc)
    return doc


def _comparisons(specs: Mapping[str, Arm]) -> list[dict[str, Any]]:
    names = list(specs)
    if len(names) < 2:
        return []
    a, b = specs[names[0]], specs[names[1]]
    ratio = a.rps / b.rps
    return [
        {
            "metric": "rps",
            "numerator": names[0],
            "denominator": names[1],
            "estimate": ratio,
            "low": ratio * 0.95,
            "high": ratio * 1.05,
            "confidence": 0.95,
            "verdict": "numerator higher" if ratio > 1.05 else "no significant difference",
        }
    ]


def _summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for arm in doc["arms"]:
        rows = [r for r in doc["rounds"] if r["arm"] == arm["name"] and not r["warmup"]]
        requests = sum(r["requests"] for r in rows) or 1
        rps = float(np.median([r["rps"] for r in rows]))
        out[arm["name"]] = {
            "rounds": len(rows),
            "rps_median": rps,
            "p50_ms_median": float(np.median([r["p50_ms"] for r in rows])),
            "p95_ms_median": float(np.median([r["p95_ms"] for r in rows])),
            "p99_ms_median": float(np.median([r["p99_ms"] for r in rows])),
            "error_rate": sum(r["errors"] for r in rows) / requests,
            "rate_limited_fraction": sum(r["rate_limited"] for r in rows) / requests,
            "measured_over_bound": None if arm["bound"] is None else rps / arm["bound"]["rps"],
        }
    return out


def with_changes(doc: Mapping[str, Any], **top_level: Any) -> dict[str, Any]:
    """A deep copy of ``doc`` with top-level keys replaced (handy for breaking a document)."""
    out = copy.deepcopy(dict(doc))
    out.update(top_level)
    return out


def make_bench(
    means: Mapping[str, float], *, seed: int = 0, noise: float = 0.02, commit: str = "abc123"
) -> dict[str, Any]:
    """A pytest-benchmark JSON document with one benchmark per ``name -> mean seconds``."""
    rng = np.random.default_rng(seed)
    benchmarks = []
    for name, mean in means.items():
        m = mean * (1.0 + noise * float(rng.standard_normal()))
        stats = {
            "min": m * 0.9,
            "max": m * 1.3,
            "mean": m,
            "stddev": m * noise,
            "rounds": 100,
            "median": m,
            "iqr": m * 0.05,
            "q1": m * 0.97,
            "q3": m * 1.02,
            "iqr_outliers": 1,
            "stddev_outliers": 2,
            "outliers": "2;1",
            "ld15iqr": m * 0.9,
            "hd15iqr": m * 1.1,
            "ops": 1.0 / m,
            "total": m * 100,
            "iterations": 1,
        }
        benchmarks.append(
            {
                "group": None,
                "name": name,
                "fullname": f"tests/bench/test_x.py::{name}",
                "params": None,
                "param": None,
                "extra_info": {},
                "options": {},
                "stats": stats,
            }
        )
    return {
        "machine_info": {"node": "ci", "python_implementation": "CPython", "python_version": "3.11.2"},
        "commit_info": {"id": commit, "dirty": False, "branch": "main"},
        "benchmarks": benchmarks,
        "datetime": "2026-01-01T00:00:00+00:00",
        "version": "5.3.1",
    }
