"""core.request_metrics: the request counter and latency histogram read exactly as prometheus_client's own."""

from __future__ import annotations

import random
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from reference_app.core.request_metrics import RequestMetrics
from reference_app.core.telemetry import LATENCY_BUCKETS

# Values on bucket bounds (Prometheus buckets are "less than or equal"), between them and past the last.
EDGE_VALUES = [0.0, 0.001, 0.0010001, 0.0025, 0.005, 0.7, 1.0, 10.0, 10.5, 123.0]


def _reference(observations: list[tuple[str, str, int, float]]) -> bytes:
    """The same observations through a labelled Counter and Histogram (``_created`` values masked)."""
    registry = CollectorRegistry()
    requests = Counter("http_requests", "HTTP requests by route template and status.",
                       ["method", "route", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "Time from request to last response byte.",
                        ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry)
    for method, route, status, seconds in observations:
        requests.labels(method, route, str(status)).inc()
        latency.labels(method, route).observe(seconds)
    return _mask_created(generate_latest(registry))


def _mask_created(text: bytes) -> bytes:
    """Every ``_created`` sample kept, its timestamp replaced: the series must be there, the time differs."""
    return b"\n".join(line.rsplit(b" ", 1)[0] + b" T" if b"_created{" in line else line for line in text.splitlines())


def _without_sums(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if b"_sum{" not in line]


def _sums(text: bytes) -> dict[bytes, float]:
    pairs = (line.rsplit(b" ", 1) for line in text.splitlines() if b"_sum{" in line)
    return {series: float(value) for series, value in pairs}


def _exposition(observations: list[tuple[str, str, int, float]]) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    metrics = RequestMetrics(LATENCY_BUCKETS)
    registry.register(metrics)
    for observation in observations:
        metrics.observe(*observation)
    return _mask_created(generate_latest(registry))


def test_exposition_matches_prometheus_clients_counter_and_histogram() -> None:
    rng = random.Random(7)
    observations = [("GET", "/api/v1/items/{item_id}", 200, v) for v in EDGE_VALUES]
    observations += [(rng.choice(["GET", "POST"]), rng.choice(["/a", "/b/{id}"]), rng.choice([200, 201, 404, 500]),
                      rng.expovariate(50)) for _ in range(500)]
    ours = _exposition(observations)
    reference = _reference(observations)
    assert _without_sums(ours) == _without_sums(reference)  # HELP, TYPE, every count and bucket, in order
    # The sums, added per status here and across statuses at scrape time, agree to rounding.
    assert _sums(ours) == pytest.approx(_sums(reference), rel=1e-12)
    assert len(_sums(ours)) == 5  # the edge-value series and the four (method, route) pairs
    assert b'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/items/{item_id}"} 5.0' in ours


def test_no_requests_no_series() -> None:
    text = _exposition([])
    assert b"# TYPE http_requests_total counter" in text
    assert b"http_requests_total{" not in text


@pytest.mark.parametrize("buckets", [(0.1, 0.05), (0.1, 0.1)])
def test_buckets_must_ascend(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="ascending"):
        RequestMetrics(buckets)


def test_created_is_the_first_observation_of_each_series() -> None:
    registry = CollectorRegistry(auto_describe=True)
    metrics = RequestMetrics(LATENCY_BUCKETS)
    registry.register(metrics)
    before = time.time()
    metrics.observe("GET", "/a", 200, 0.01)
    after = time.time()
    metrics.observe("GET", "/a", 200, 0.02)  # the same series: its creation time stays
    created = registry.get_sample_value("http_requests_created", {"method": "GET", "route": "/a", "status": "200"})
    assert created is not None
    assert before <= created <= after
    labels = {"method": "GET", "route": "/a"}
    assert registry.get_sample_value("http_request_duration_seconds_created", labels) == created
