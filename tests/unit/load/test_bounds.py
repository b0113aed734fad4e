"""Theoretical bounds and the expected 429 share (load.analysis)."""

from __future__ import annotations

from typing import Any

import pytest

from load.analysis import (
    bound_for,
    expected_429_fraction,
    littles_law_bound,
    rate_limit_bound,
    thread_pool_bound,
)


def test_littles_law() -> None:
    b = littles_law_bound(200, 0.05)
    assert b["kind"] == "littles_law"
    assert b["rps"] == pytest.approx(4000)


@pytest.mark.parametrize(("users", "threads", "expected"), [(200, 40, 800), (10, 40, 200)])
def test_thread_pool_caps_concurrency(users: int, threads: int, expected: float) -> None:
    assert thread_pool_bound(users, threads, 0.05)["rps"] == pytest.approx(expected)


def test_rate_limit_bound() -> None:
    assert rate_limit_bound(600, 60)["rps"] == pytest.approx(10)


def _rps(bound: dict[str, Any] | None) -> float:
    assert bound is not None
    return float(bound["rps"])


def test_bound_for_reads_the_declared_spec() -> None:
    assert _rps(bound_for({"kind": "thread_pool", "threads": 10, "latency_ms": 200}, users=100)) == 50
    assert _rps(bound_for({"kind": "thread_pool", "threads": 40, "latency_ms": 200}, users=100)) == 200
    assert _rps(bound_for({"kind": "littles_law", "latency_ms": 200}, users=100)) == 500
    assert _rps(bound_for({"kind": "littles_law", "latency_ms": 200, "users": 10}, users=100)) == 50
    assert _rps(bound_for({"kind": "declared_rate", "rps": 50}, users=10)) == 50
    assert bound_for(None, users=10) is None
    with pytest.raises(ValueError, match="unknown bound kind"):
        bound_for({"kind": "nope"}, users=1)


@pytest.mark.parametrize(("limit", "offered", "expected"), [(50, 200, 0.75), (50, 50, 0.0), (50, 25, 0.0),
                                                             (50, 0, 0.0)])
def test_expected_429_fraction(limit: float, offered: float, expected: float) -> None:
    assert expected_429_fraction(limit, offered) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [lambda: littles_law_bound(0, 0.05), lambda: thread_pool_bound(1, 0, 0.05),
                                 lambda: rate_limit_bound(0, 1), lambda: littles_law_bound(1, 0)])
def test_bounds_reject_nonsense(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="need"):
        bad()
