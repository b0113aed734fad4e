"""gates.toml parsing: the vocabulary, units, and strict rejection of anything unknown."""

from __future__ import annotations

import pytest

from reports.gatespec import GateSpecError, parse_gates


def one(text: str):  # type: ignore[no-untyped-def]
    (spec,) = parse_gates(text)
    return spec


@pytest.mark.parametrize(
    ("expr", "metric", "op", "threshold"),
    [
        ("p95 < 200ms", "p95", "<", 200.0),
        ("p(95)<200", "p95", "<", 200.0),
        ("p(99.9) <= 1.5s", "p999", "<=", 1500.0),
        ("med < 50", "p50", "<", 50.0),
        ("error_rate < 0.1%", "error_rate", "<", 0.001),
        ("http_req_failed < 0.01", "error_rate", "<", 0.01),
        ("rps > 100", "rps", ">", 100.0),
        ("http_reqs >= 100/s", "rps", ">=", 100.0),
        ("rate_limited_fraction >= 20%", "rate_limited_fraction", ">=", 0.2),
        ("measured_over_bound >= 0.8", "measured_over_bound", ">=", 0.8),
    ],
)
def test_absolute_expressions(expr: str, metric: str, op: str, threshold: float) -> None:
    spec = one(f'[[gate]]\nkind = "absolute"\nprofile = "io"\nexpr = "{expr}"\n')
    assert (spec.metric.name, spec.op, spec.threshold) == (metric, op, pytest.approx(threshold))
    assert spec.name == f"io: {expr}"


def test_relative_expression() -> None:
    spec = one('[[gate]]\nkind = "relative"\nprofile = "io"\nexpr = "rps[io_async] / rps[io_sync] >= 3"\n')
    assert (spec.numerator, spec.denominator, spec.op, spec.threshold) == ("io_async", "io_sync", ">=", 3.0)


def test_baseline_gate() -> None:
    spec = one('[[gate]]\nkind = "baseline"\nprofile = "io"\nmetric = "p(95)"\nmax_regression = "10%"\n')
    assert spec.metric.name == "p95"
    assert spec.max_regression == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[gate]]\nkind = "absolute"\nexpr = "p95 < 1"\nthreshold = 3\n', "unknown key(s) ['threshold']"),
        ('[[gate]]\nkind = "fancy"\nexpr = "p95 < 1"\n', "kind must be one of"),
        ('[[gate]]\nkind = "absolute"\nexpr = "p96 < 1"\n', "unknown metric 'p96'"),
        ('[[gate]]\nkind = "absolute"\nexpr = "p95 < 5%"\n', "unit '%' is not valid for metric p95"),
        ('[[gate]]\nkind = "absolute"\nexpr = "p95 about 5"\n', "is not '<metric> <op> <number>[unit]'"),
        ('[[gate]]\nkind = "relative"\nexpr = "rps[a] / p95[b] >= 1"\n', "same metric"),
        ('[[gate]]\nkind = "relative"\nexpr = "error_rate[a] / error_rate[b] <= 1"\n', "per-round metric"),
        ('[[gate]]\nkind = "baseline"\nmetric = "p95"\n', "needs ['max_regression']"),
        ('[[gate]]\nkind = "baseline"\nmetric = "rps"\nmax_regression = "150%"\n', "below 100%"),
        (
            '[[gate]]\nkind = "absolute"\nexpr = "error_rate < 1%"\naggregate = "max"\n',
            "per-round metrics only",
        ),
        ('[[gate]]\nkind = "absolute"\nexpr = "p95 < 1"\naggregate = "p42"\n', "aggregate must be one of"),
        ('[[gate]]\nkind = "absolute"\nexpr = "server_rss_mb < 1"\nrequest = "GET /"\n', "per request name"),
        ('[gate]\nkind = "absolute"\nexpr = "p95 < 1"\n', "write [[gate]]"),
        ('[[gates]]\nkind = "absolute"\n', "unknown top-level key(s) ['gates']"),
        ("version = 2\n", "version 2 is not supported"),
        ("[[gate]\n", "not valid TOML"),
        (
            '[[gate]]\nname = "x"\nkind = "absolute"\nexpr = "p95 < 1"\n'
            '[[gate]]\nname = "x"\nkind = "absolute"\nexpr = "p99 < 1"\n',
            "must be unique",
        ),
    ],
)
def test_rejections_are_clear(text: str, message: str) -> None:
    with pytest.raises(GateSpecError) as info:
        parse_gates(text)
    assert message in str(info.value)
    assert info.value.exit_code == 2
