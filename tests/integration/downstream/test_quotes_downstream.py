"""GET /api/v1/items/{id}/quote against a real pricing process with injected faults.

Timing assertions are relative: to the configured timeouts and to the injected latency, never an
absolute wall-clock promise about this machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

import httpx

from reference_app.core.resilience import BreakerState
from tests.integration.downstream.conftest import (
    FAST_POLICY,
    SLOW_LATENCY_S,
    TIGHT_TIMEOUTS,
    PricingService,
    QuoteEnvFactory,
)
from tests.utils.factories import create_user

PROBLEM = "application/problem+json"
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_TRACEPARENT = f"00-{INCOMING_TRACE_ID}-00f067aa0ba902b7-01"


def breaker_state(env: Any) -> BreakerState:
    state: BreakerState = env.app.state.pricing.breaker.state
    return state


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert "Traceback" not in r.text
    return body


async def open_breaker(env: Any, pricing: PricingService, threshold: int) -> None:
    pricing.set_faults(outage=True)
    for _ in range(threshold):
        assert_problem(await env.quote(), 503)
    assert breaker_state(env) is BreakerState.OPEN


# -- happy path and propagation ------------------------------------------------------------------
async def test_live_quote_comes_from_the_downstream(quote_env: QuoteEnvFactory, pricing: PricingService) -> None:
    async with quote_env() as env:
        r = await env.quote()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "live"
    assert body["base_price"] == {"amount": "12.50", "currency": "EUR"}
    assert body["quoted_price"] == {"amount": "15.00", "currency": "EUR"}  # 12.50 x markup 1.2
    assert "X-Served-Stale" not in r.headers
    assert pricing.calls() == 1


async def test_request_id_and_trace_context_reach_the_downstream(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    request_id = "quote-trace-0001"
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    app_log = logging.getLogger("refapp.pricing")
    app_log.addHandler(handler)
    try:
        async with quote_env() as env:
            r = await env.quote(**{"X-Request-ID": request_id, "traceparent": INCOMING_TRACEPARENT})
    finally:
        app_log.removeHandler(handler)
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-ID"] == request_id
    seen = [rec for rec in pricing.log_records() if rec.get("request_id") == request_id]
    assert len(seen) == 1, seen
    # One trace across both services: the downstream continues the caller's trace id, under our hop's span id.
    assert seen[0]["trace_id"] == INCOMING_TRACE_ID
    assert seen[0]["traceparent"] != INCOMING_TRACEPARENT
    assert seen[0]["traceparent"].endswith("-01")  # the sampled flag travels too
    ours = [rec for rec in records if rec.getMessage() == "downstream call"]
    assert [getattr(rec, "trace_id", None) for rec in ours] == [INCOMING_TRACE_ID]


async def test_a_trace_is_started_when_the_caller_sends_none(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env() as env:
        r = await env.quote()
    assert r.status_code == 200
    request_id = r.headers["X-Request-ID"]  # minted by the correlation middleware
    seen = [rec for rec in pricing.log_records() if rec.get("request_id") == request_id]
    assert len(seen) == 1
    version, trace_id, span_id, _flags = seen[0]["traceparent"].split("-")
    assert version == "00"
    assert len(trace_id) == 32
    assert trace_id != "0" * 32
    assert len(span_id) == 16
    assert span_id != "0" * 16


async def test_another_users_item_is_404_without_a_downstream_call(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env() as env:
        stranger = await create_user(env.client)
        r = await env.client.get(f"/api/v1/items/{env.item['id']}/quote", headers=stranger.headers)
        assert_problem(r, 404)
        assert_problem(await env.client.get(f"/api/v1/items/{env.item['id']}/quote"), 401)
    assert pricing.calls() == 0


# -- slow downstream: timeouts ---------------------------------------------------------------------
async def test_slow_downstream_is_cut_off_at_the_total_timeout(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    read = TIGHT_TIMEOUTS["pricing_read_timeout_s"]
    pricing.set_faults(latency_ms=int(SLOW_LATENCY_S * 1000))
    async with quote_env(**TIGHT_TIMEOUTS) as env:
        started = time.perf_counter()
        r = await env.quote()
        elapsed = time.perf_counter() - started
    body = assert_problem(r, 503)
    assert "did not answer" in body["detail"] or "unavailable" in body["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    # Honoured: it did wait for the read timeout, and gave up far sooner than the downstream would
    # have answered (bounds relative to the configuration, not a promise about this machine's speed).
    assert elapsed >= read
    assert elapsed < SLOW_LATENCY_S / 2


async def test_slow_downstream_serves_the_last_good_quote_as_stale(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env(**TIGHT_TIMEOUTS) as env:
        # The precondition is one good quote in the cache. Under tight timeouts on a busy machine the
        # first call may itself time out, so allow a few (bounded) tries to get it.
        for _ in range(5):
            live = await env.quote()
            if live.status_code == 200:
                break
        assert live.json()["source"] == "live", live.text
        pricing.set_faults(latency_ms=int(SLOW_LATENCY_S * 1000))
        started = time.perf_counter()
        r = await env.quote()
        elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "stale"
    assert r.json()["quoted_price"] == live.json()["quoted_price"]
    assert r.headers["X-Served-Stale"] == "true"
    assert r.headers["Warning"] == '110 - "Response is Stale"'
    assert elapsed < SLOW_LATENCY_S / 2


# -- flaky downstream: retries ---------------------------------------------------------------------
async def test_flaky_downstream_retries_succeed_within_the_budget(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    pricing.set_faults(error_rate=0.5, seed=7)
    async with quote_env(pricing_max_attempts=6, pricing_breaker_threshold=50) as env:
        durations, statuses = [], []
        for _ in range(12):
            started = time.perf_counter()
            r = await env.quote()
            durations.append(time.perf_counter() - started)
            statuses.append(r.status_code)
            assert r.status_code != 200 or r.json()["source"] == "live"
    stats = pricing.stats()
    assert statuses == [200] * 12
    assert stats.get("error", 0) > 0  # faults were hit, and retried away
    assert stats["calls"] == 12 + stats["error"]
    assert max(durations) < FAST_POLICY["pricing_total_timeout_s"]  # the budget that the app enforces


async def test_without_retries_the_same_flakiness_reaches_the_client(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    pricing.set_faults(error_rate=0.5, seed=7)
    async with quote_env(pricing_max_attempts=1, pricing_breaker_threshold=50) as env:
        statuses = [(await env.quote()).status_code for _ in range(12)]
    assert 503 in statuses
    assert 200 in statuses
    assert pricing.calls() == 12  # one attempt each: nothing retried


# -- outage: the circuit breaker -------------------------------------------------------------------
async def test_outage_opens_the_breaker_then_requests_fail_fast(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env(pricing_max_attempts=1, pricing_breaker_reset_s=30.0) as env:
        await open_breaker(env, pricing, FAST_POLICY["pricing_breaker_threshold"])
        assert pricing.calls() == FAST_POLICY["pricing_breaker_threshold"]
        for _ in range(5):
            started = time.perf_counter()
            r = await env.quote()
            elapsed = time.perf_counter() - started
            body = assert_problem(r, 503)
            assert "circuit breaker is open" in body["detail"]
            assert 1 <= int(r.headers["Retry-After"]) <= 30
            assert elapsed < FAST_POLICY["pricing_read_timeout_s"]  # never waits on the network
    assert pricing.calls() == FAST_POLICY["pricing_breaker_threshold"]  # nothing reached the downstream


async def test_half_open_lets_exactly_one_probe_through_and_closes_on_recovery(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env(pricing_max_attempts=1) as env:
        await open_breaker(env, pricing, FAST_POLICY["pricing_breaker_threshold"])
        pricing.set_faults(latency_ms=150)  # recovered (slowly, so the probe is in flight a while)
        calls_before = pricing.calls()
        await asyncio.sleep(FAST_POLICY["pricing_breaker_reset_s"] + 0.05)
        assert breaker_state(env) is BreakerState.HALF_OPEN
        responses = await asyncio.gather(*(env.quote() for _ in range(6)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 503, 503, 503, 503, 503]
        assert pricing.calls() == calls_before + 1  # exactly one probe
        assert breaker_state(env) is BreakerState.CLOSED
        assert (await env.quote()).status_code == 200
    assert pricing.calls() == calls_before + 2


async def test_a_failed_probe_reopens_the_breaker(quote_env: QuoteEnvFactory, pricing: PricingService) -> None:
    async with quote_env(pricing_max_attempts=1) as env:
        await open_breaker(env, pricing, FAST_POLICY["pricing_breaker_threshold"])
        calls_before = pricing.calls()
        await asyncio.sleep(FAST_POLICY["pricing_breaker_reset_s"] + 0.05)
        assert_problem(await env.quote(), 503)  # the probe, still an outage
        assert pricing.calls() == calls_before + 1
        assert breaker_state(env) is BreakerState.OPEN
        assert_problem(await env.quote(), 503)  # open again: no call
    assert pricing.calls() == calls_before + 1


async def test_metrics_show_the_breaker_state_and_transitions(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env(pricing_max_attempts=1) as env:
        text = (await env.client.get("/metrics")).text
        assert 'downstream_circuit_state{downstream="pricing"} 0.0' in text
        await open_breaker(env, pricing, FAST_POLICY["pricing_breaker_threshold"])
        text = (await env.client.get("/metrics")).text
    assert 'downstream_circuit_state{downstream="pricing"} 1.0' in text
    assert ('downstream_circuit_transitions_total{downstream="pricing",from_state="closed",to_state="open"} 1.0'
            in text)
    assert 'downstream_calls_total{downstream="pricing",outcome="unavailable"} 3.0' in text


async def test_with_the_breaker_disabled_every_request_waits_on_the_outage(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    async with quote_env(pricing_breaker_enabled=False, pricing_max_attempts=2) as env:
        pricing.set_faults(outage=True)
        for _ in range(6):
            assert_problem(await env.quote(), 503)
        assert breaker_state(env) is BreakerState.CLOSED
    assert pricing.calls() == 6 * 2


# -- unsafe consumption (OWASP API10) --------------------------------------------------------------
async def test_oversized_response_is_a_502_and_not_retried(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    pricing.set_faults(oversized=True)
    async with quote_env(pricing_max_response_bytes=4096) as env:
        body = assert_problem(await env.quote(), 502)
    assert "larger than 4096 bytes" in body["detail"]
    assert pricing.calls() == 1


async def test_invalid_response_shape_is_a_502(quote_env: QuoteEnvFactory, pricing: PricingService) -> None:
    pricing.set_faults(invalid=True)
    async with quote_env() as env:
        body = assert_problem(await env.quote(), 502)
    assert "invalid body" in body["detail"]
    assert pricing.calls() == 1


async def test_redirect_to_another_host_is_refused_and_not_followed(
    quote_env: QuoteEnvFactory, pricing: PricingService
) -> None:
    # "localhost" is another host name for the same process: following the redirect would be a 2nd call.
    port = pricing.base_url.rsplit(":", 1)[1]
    pricing.set_faults(redirect_to=f"http://localhost:{port}/prices/1")
    async with quote_env() as env:
        body = assert_problem(await env.quote(), 502)
    assert "another host" in body["detail"]
    assert "not followed" in body["detail"]
    assert pricing.calls() == 1


# -- bulkhead --------------------------------------------------------------------------------------
async def test_a_full_bulkhead_answers_503_at_once(quote_env: QuoteEnvFactory, pricing: PricingService) -> None:
    pricing.set_faults(latency_ms=1000)  # the first call holds the only slot far beyond the 20 ms wait
    async with quote_env(pricing_bulkhead_size=1, pricing_bulkhead_wait_s=0.02) as env:
        responses = await asyncio.gather(*(env.quote() for _ in range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503, 503]
    for r in responses:
        if r.status_code == 503:
            assert "Too many pricing calls" in assert_problem(r, 503)["detail"]
            assert r.headers["Retry-After"] == "1"
    assert pricing.calls() == 1


# -- the stale cache is per item version -----------------------------------------------------------
async def test_no_stale_quote_for_a_changed_price(quote_env: QuoteEnvFactory, pricing: PricingService) -> None:
    async with quote_env(pricing_max_attempts=1) as env:
        assert (await env.quote()).status_code == 200
        item = (await env.client.get(f"/api/v1/items/{env.item['id']}", headers=env.user.headers))
        payload = {k: item.json()[k] for k in ("name", "description", "category")} | {"price": 99.0}
        put = await env.client.put(f"/api/v1/items/{env.item['id']}", json=payload,
                                   headers={**env.user.headers, "If-Match": item.headers["ETag"]})
        assert put.status_code == 200, put.text
        pricing.set_faults(outage=True)
        assert_problem(await env.quote(), 503)  # the cached quote was for the old price
        pricing.set_faults()
        r = await env.quote()
    assert r.json()["base_price"]["amount"] == "99.00"
    assert Decimal(r.json()["quoted_price"]["amount"]) == Decimal("118.80")
