"""Response-time percentiles at 0.5% resolution, kept beside Locust's own stats.

Locust stores response times rounded to whole milliseconds below 100 ms (to 10 ms below 1 s, and so
on) before it computes percentiles. At the ~5 ms p95 of a cached read one step is 20%: two rounds of
the same arm read 5 and 6 ms, and no number of rounds shows an A/A pair equivalent within a ±30%
margin (measured: 2 of 2 quick A/A runs of the cache experiment invalid on a quiet machine, with
rps equivalent). Here every request's response time, the float Locust's ``request`` event carries,
counts in log-spaced buckets 0.5% wide, so a percentile is off by at most 0.25% at any latency.

The histogram is per process. Workers ship it to the master with their stats reports (Locust's
``report_to_master``/``worker_report`` events), as ``load.counters`` ships its counters, so the
master's histogram is the cluster's, like Locust's own request stats. ``load.counters`` registers the
listeners (``register``): this module does not import Locust, whose import monkey-patches the process.
The driver resets it when it resets the stats and takes the total's percentiles from it; per-name
entries keep Locust's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

RELATIVE_WIDTH = 0.005
_STEP = math.log1p(RELATIVE_WIDTH)
_FLOOR_MS = 1e-3  # 1 us: a zero or negative time (a clock step) counts in the lowest bucket

HISTOGRAM: Counter[int] = Counter()


def bucket(ms: float) -> int:
    return math.floor(math.log(max(ms, _FLOOR_MS)) / _STEP)


def bucket_value(index: int) -> float:
    """The bucket's geometric centre: within half a bucket (0.25%) of every time in it."""
    return math.exp((index + 0.5) * _STEP)


def record(ms: float) -> None:
    HISTOGRAM[bucket(ms)] += 1


def percentile(histogram: Mapping[int, int], p: float) -> float | None:
    """The smallest bucket value with at least ``p`` of the requests at or below it (Locust's rule)."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p * n))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(bucket_value(index), 3)
    raise AssertionError("unreachable: the ranks add up to n")  # pragma: no cover


def reset() -> None:
    HISTOGRAM.clear()


def on_request(response_time: float | None = None, **_: Any) -> None:
    if response_time is not None:  # Locust leaves such requests out of its percentiles too
        record(float(response_time))


def ship(client_id: str, data: dict[str, Any], **_: Any) -> None:
    # Pairs, not a dict: msgpack (Locust's wire format) refuses integer map keys by default.
    data["harness_latency"] = sorted(HISTOGRAM.items())
    HISTOGRAM.clear()


def merge(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for index, count in data.get("harness_latency", ()):
        HISTOGRAM[int(index)] += int(count)


def register(events: Any) -> None:
    """Listen on Locust's ``events`` (the module-level ``locust.events``)."""
    events.request.add_listener(on_request)
    events.report_to_master.add_listener(ship)
    events.worker_report.add_listener(merge)
