"""``http_requests_total`` and ``http_request_duration_seconds``: one observation per request.

A custom collector (prometheus_client's extension point for values kept elsewhere) rather than a
labelled ``Counter`` and ``Histogram``: those take a lock for each value they touch, the counter, the
histogram's sum and one bucket, about 2 us of a ~75 us ``/lab/hello`` request in the middleware
(docs/load.md). Here a request is one dict lookup, a bisect and two list increments; the metric
families are built when Prometheus scrapes. Only the event loop's thread observes (the middleware),
and a scrape reads a copy of each series, so a scrape never sees a bucket without its count.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString


class RequestMetrics(Collector):
    """Requests by (method, route template, status), with their latency histogram by (method, route)."""

    def __init__(self, buckets: Sequence[float]) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("buckets must be distinct and ascending")
        self._bounds = tuple(float(b) for b in buckets)
        # The "le" labels as prometheus_client's Histogram writes them ("0.001", "1.0", "+Inf").
        self._labels = [floatToGoString(b) for b in self._bounds] + ["+Inf"]  # type: ignore[no-untyped-call]  # prometheus_client.utils has no annotations
        # (method, route, status) -> [count in bucket 0, ..., count above the last bound, sum of seconds]
        self._series: dict[tuple[str, str, int], list[float]] = {}
        # When each series was first observed: the ``_created`` samples prometheus_client's own metrics
        # expose (scrapers use them to spot counter resets; a test tells worker processes apart by them).
        self._created: dict[tuple[str, str, int], float] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            self._created[key] = time.time()
            series = self._series[key] = [0] * (len(self._bounds) + 1) + [0.0]
        # bisect_left: the first bound >= seconds, as Prometheus's "le" (less than or equal) means.
        series[bisect_left(self._bounds, seconds)] += 1
        series[-1] += seconds

    def describe(self) -> Iterable[Metric]:
        return self._families({})

    def collect(self) -> Iterable[Metric]:
        return self._families({key: list(series) for key, series in list(self._series.items())})

    def _families(self, snapshot: dict[tuple[str, str, int], list[float]]) -> list[Metric]:
        # What prometheus_client.disable_created_metrics() (or PROMETHEUS_DISABLE_CREATED_SERIES) set.
        with_created = bool(getattr(prometheus_metrics, "_use_created", True))
        requests = CounterMetricFamily("http_requests", "HTTP requests by route template and status.",
                                       labels=["method", "route", "status"])
        by_route: dict[tuple[str, str], list[float]] = {}
        route_created: dict[tuple[str, str], float] = {}
        for key, series in snapshot.items():
            method, route, status = key
            created = self._created[key]
            requests.add_metric([method, route, str(status)], sum(series[:-1]),
                                created=created if with_created else None)
            total = by_route.setdefault((method, route), [0.0] * len(series))
            for i, value in enumerate(series):
                total[i] += value
            route_created[(method, route)] = min(created, route_created.get((method, route), created))
        latency = HistogramMetricFamily("http_request_duration_seconds", "Time from request to last response byte.",
                                        labels=["method", "route"])
        for (method, route), series in by_route.items():
            cumulative, buckets = 0.0, []
            for label, count in zip(self._labels, series[:-1], strict=True):
                cumulative += count
                buckets.append((label, cumulative))
            latency.add_metric([method, route], buckets, sum_value=series[-1])
            if with_created:
                latency.samples.append(Sample("http_request_duration_seconds_created",
                                              {"method": method, "route": route}, route_created[(method, route)]))
        return [requests, latency]
