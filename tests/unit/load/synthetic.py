"""Synthetic rounds and results documents for the analysis/schema tests."""

from __future__ import annotations

from typing import Any


def make_round(index: int, arm: str, rps: float, p95: float, *, warmup: bool = False, requests: int | None = None,
               errors: int = 0, rate_limited: int = 0, gen_cpu: float = 30.0, other_cpu: float = 0.0) -> dict[str, Any]:
    n = requests if requests is not None else int(rps * 5)
    return {
        "index": index, "arm": arm, "warmup": warmup, "started_at": "2026-11-29T07:00:00+00:00",
        "duration_s": 5.0, "requests": n, "rps": rps, "p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.5,
        "percentiles_ms": {"0.5": p95 / 2, "0.75": p95 * 0.7, "0.9": p95 * 0.9, "0.95": p95, "0.99": p95 * 1.5,
                           "0.999": p95 * 2},
        "errors": errors, "rate_limited": rate_limited, "checks_failed": 0,
        "generator_cpu_percent": gen_cpu, "server_cpu_percent": 80.0, "server_rss_mb": 120.0,
        "saturated": gen_cpu >= 90.0, "other_cpu_percent": other_cpu,
        "by_name": {"GET io": {"requests": n, "failures": errors, "rps": rps, "p50_ms": p95 / 2, "p95_ms": p95,
                               "p99_ms": p95 * 1.5}},
        "counters": {"rate_limited": rate_limited},
    }


def two_arm_rounds(a: tuple[float, ...], b: tuple[float, ...], *, p95_a: float = 100.0, p95_b: float = 100.0,
                   gen_cpu: float = 30.0) -> list[dict[str, Any]]:
    rounds = [make_round(0, "A", a[0], p95_a, warmup=True), make_round(1, "B", b[0], p95_b, warmup=True)]
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        rounds.append(make_round(len(rounds), "A", x, p95_a + i, gen_cpu=gen_cpu))
        rounds.append(make_round(len(rounds), "B", y, p95_b + i, gen_cpu=gen_cpu))
    return rounds


ARMS = [
    {"name": "A", "server": "uvicorn", "workers": 1, "bound": {"kind": "thread_pool", "rps": 200.0,
                                                               "explanation": "x"}},
    {"name": "B", "server": "uvicorn", "workers": 1, "bound": {"kind": "littles_law", "rps": 500.0,
                                                               "explanation": "y"}},
]
