"""load.latency: percentiles at 0.5% resolution, shipped from workers to the master."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import msgpack
import pytest

from load import latency

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _empty_histogram() -> None:
    latency.reset()


def _exact(values: list[float], p: float) -> float:
    """Locust's rule on exact values: the smallest value with at least p of them at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


@pytest.mark.parametrize("median_ms", [0.8, 5.0, 47.0, 900.0])
def test_percentiles_are_within_a_quarter_percent_of_the_exact_ones(median_ms: float) -> None:
    rng = random.Random(7)
    values = [median_ms * math.exp(rng.gauss(0, 0.4)) for _ in range(20_000)]
    for v in values:
        latency.record(v)
    for p in (0.5, 0.95, 0.99, 0.999):
        fine = latency.percentile(latency.HISTOGRAM, p)
        assert fine is not None
        assert fine == pytest.approx(_exact(values, p), rel=0.0026)


def test_locust_rounds_a_5_ms_p95_to_whole_milliseconds_and_this_does_not() -> None:
    # Why the module exists: 4.6 ms and 5.4 ms are 17% apart; Locust reads both as 5 ms (and 5.6 as 6).
    for ms in (4.6, 5.4, 5.6):
        latency.reset()
        latency.record(ms)
        assert latency.percentile(latency.HISTOGRAM, 0.95) == pytest.approx(ms, rel=0.0026)


def test_a_request_without_a_time_is_left_out_as_locust_does() -> None:
    latency.on_request(request_type="GET", name="/x", response_time=12.5, response_length=1, exception=None)
    latency.on_request(request_type="GET", name="/x", response_time=None, response_length=0, exception=None)
    assert sum(latency.HISTOGRAM.values()) == 1
    assert latency.percentile(latency.HISTOGRAM, 0.5) == pytest.approx(12.5, rel=0.0026)


# Importing Locust monkey-patches the process: the wiring is checked in a child interpreter, as the
# driver and its workers run.
PROBE = textwrap.dedent("""
    import json
    from locust import events
    import load.counters  # what the driver and every worker import first
    from load import latency

    events.request.fire(request_type="GET", name="/x", response_time=7.25, response_length=1,
                        exception=None, context={})
    data = {}
    events.report_to_master.fire(client_id="w1", data=data)
    after_ship = sum(latency.HISTOGRAM.values())
    events.worker_report.fire(client_id="w1", data=data)
    print("PROBE " + json.dumps({"after_ship": after_ship, "p50": latency.percentile(latency.HISTOGRAM, 0.5),
                                 "n": sum(latency.HISTOGRAM.values())}))
""")


def test_importing_load_counters_wires_the_histogram_to_locusts_events() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("PROBE ")).removeprefix("PROBE "))
    assert facts == {"after_ship": 0, "p50": pytest.approx(7.25, rel=0.0026), "n": 1}


def test_a_worker_report_survives_msgpack_and_merges_on_the_master() -> None:
    for ms in (3.0, 3.0, 9.0):
        latency.record(ms)
    shipped = dict(latency.HISTOGRAM)
    data: dict[str, object] = {}
    latency.ship("w1", data)
    assert not latency.HISTOGRAM  # shipped deltas, as Locust's own stats
    wire = msgpack.unpackb(msgpack.packb(data))  # Locust's RPC codec; int map keys would be refused
    latency.merge("w1", wire)
    latency.merge("w2", wire)
    assert Counter({k: 2 * v for k, v in shipped.items()}) == latency.HISTOGRAM


def test_an_empty_histogram_has_no_percentile() -> None:
    assert latency.percentile(Counter(), 0.95) is None
