"""load.cluster's pure parts and what a lost or saturated remote worker does to a round and a run."""

from __future__ import annotations

import pytest

from harness.exitcodes import HarnessError
from load import analysis
from load.cluster import DEFAULT_PORT, ClusterOptions, parse_hostport
from load.runner import cluster_fields
from tests.unit.load.synthetic import ARMS, two_arm_rounds


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.5", ("10.0.0.5", DEFAULT_PORT)), ("master:6000", ("master", 6000)),
    ("[::1]:7000", ("::1", 7000)), ("[fe80::1]", ("fe80::1", DEFAULT_PORT)),
])
def test_master_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    (":5557", "HOST"), ("host:port", "not a number"), ("host:0", "1..65535"), ("host:70000", "1..65535"),
])
def test_bad_master_addresses_exit_2(text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as err:
        parse_hostport(text)
    assert err.value.exit_code == 2


@pytest.mark.parametrize(("expect", "minimum", "timeout", "message"), [
    (0, 1, 10.0, "--expect-workers"), (2, 3, 10.0, "--min-workers"), (2, 0, 10.0, "--min-workers"),
    (2, 1, 0.0, "--worker-timeout"),
])
def test_inconsistent_cluster_options_are_refused(expect: int, minimum: int, timeout: float, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        ClusterOptions("127.0.0.1", 5557, expect, minimum, timeout)


def _res(**extra: object) -> dict[str, object]:
    return {"workers": {"w1": {"cpu_percent": 40.0, "host": "a", "lost": False}}, "workers_lost": [],
            "workers_joined": [], "workers_live": 1, **extra}


def test_a_round_with_a_lost_or_joining_worker_is_excluded() -> None:
    assert "excluded" not in cluster_fields(_res())
    lost = cluster_fields(_res(workers_lost=["w2"]))
    assert lost["excluded"] == "invalid round: worker w2 lost during the round"
    joined = cluster_fields(_res(workers_joined=["w3"]))
    assert "worker w3 joined" in joined["excluded"]
    assert cluster_fields({}) == {}  # a local run's round gets no cluster fields


def test_excluded_rounds_leave_the_summary_and_comparisons_and_are_noted() -> None:
    rounds = two_arm_rounds((100, 110, 120, 115), (400, 420, 440, 430))
    rounds[2]["rps"] = 1e9  # A's first measured round: its worker was lost
    rounds[2]["excluded"] = "invalid round: worker w1 lost during the round"
    s = analysis.summarize(rounds, ARMS)
    assert s["A"]["rounds"] == 3
    assert s["A"]["rps_median"] == 115
    c = analysis.compare(rounds, "B", "A", "rps")
    assert c["n_denominator"] == 3
    v = analysis.validity(rounds, s)
    assert v["valid"]
    assert any("left out" in note and "worker w1 lost" in note for note in v["notes"])


def test_every_round_of_an_arm_excluded_makes_the_run_invalid() -> None:
    rounds = two_arm_rounds((100, 110), (400, 420))
    for r in rounds:
        if r["arm"] == "A" and not r["warmup"]:
            r["excluded"] = "invalid round: worker w1 lost during the round"
    v = analysis.validity(rounds, analysis.summarize(rounds, ARMS))
    assert not v["valid"]
    assert "invalid: arm A has no measured rounds" in v["reasons"]


def test_a_saturated_remote_worker_saturates_the_round() -> None:
    from load.rounds import generator_cpu
    from load.runner import round_doc

    workers = {"w1": {"cpu_percent": 95.0, "host": "elsewhere"}, "w2": {"cpu_percent": None, "host": "x"}}
    busiest, total, here = generator_cpu({1234: 3.0}, workers)
    assert (busiest, total, here) == (95.0, 98.0, 0.0)
    res = {"total": {"requests": 10, "rps": 2.0, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "percentiles_ms": {},
                     "failures": 0}, "duration_s": 5.0, "generator_cpu_percent": busiest,
           "generator_cpu_percent_total": total, "server_cpu_percent": 10.0, "server_rss_mb": 50.0, "by_name": {},
           "workers": workers, "workers_lost": [], "workers_live": 2}
    doc = round_doc(3, "A", False, "2026-12-04T00:00:00+00:00", res)
    assert doc["saturated"]
    assert doc["workers"] == workers
    calm = generator_cpu({1234: 3.0}, {"w1": {"cpu_percent": 40.0, "host": "elsewhere"}})[0]
    assert not round_doc(3, "A", False, "", {**res, "generator_cpu_percent": calm})["saturated"]
