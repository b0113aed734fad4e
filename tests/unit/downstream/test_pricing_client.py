"""The pricing client's response checks, with a mock transport (no sockets), and the quote route's
documentation and not-configured behaviour."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core.config import Settings
from reference_app.services.pricing_client import PricingClient, PricingError, outbound_trace_headers
from tests.utils.factories import create_item, create_user

GOOD = {"item_id": 7, "amount": "9.99", "currency": "EUR", "as_of": "2026-01-01T00:00:00Z"}


def client_with(make_settings: Callable[..., Settings], handler: Callable[[httpx.Request], httpx.Response],
                **overrides: Any) -> PricingClient:
    settings = make_settings(pricing_url="http://pricing.internal", pricing_backoff_initial_s=0,
                             pricing_backoff_max_s=0, **overrides)
    return PricingClient(settings, transport=httpx.MockTransport(handler))


def streamed(template: httpx.Response) -> httpx.Response:
    """A fresh, unread copy (a Response built with json= is already consumed; the client streams)."""
    return httpx.Response(template.status_code, headers=template.headers, stream=httpx.ByteStream(template.content))


async def price_or_error(client: PricingClient) -> PricingError:
    try:
        with pytest.raises(PricingError) as info:
            await client.get_price(7, Decimal("8.00"))
    finally:
        await client.aclose()
    return info.value


async def test_good_response_is_parsed_and_sends_the_policy_headers(make_settings: Callable[..., Settings]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return streamed(httpx.Response(200, json=GOOD))

    client = client_with(make_settings, handler)
    try:
        price = await client.get_price(7, Decimal("8.00"), trace_headers={"traceparent": "00-" + "a" * 32
                                                                          + "-" + "b" * 16 + "-01"})
    finally:
        await client.aclose()
    assert price.amount == Decimal("9.99")
    assert seen[0].url.params["base"] == "8.00"
    assert seen[0].headers["accept-encoding"] == "identity"
    assert seen[0].headers["traceparent"].startswith("00-" + "a" * 32)


@pytest.mark.parametrize(("response", "detail"), [
    (httpx.Response(200, json=GOOD, headers={"Content-Length": "999999"}), "larger than"),
    (httpx.Response(200, content=gzip.compress(b"{}"), headers={"Content-Type": "application/json",
                                                                 "Content-Encoding": "gzip"}), "compressed"),
    (httpx.Response(200, text="<html>", headers={"Content-Type": "text/html"}), "not JSON"),
    (httpx.Response(200, json=GOOD | {"item_id": 8}), "different item"),
    (httpx.Response(200, json=GOOD | {"currency": "euro"}), "invalid body"),
    (httpx.Response(200, json=GOOD | {"amount": "-1"}), "invalid body"),
    (httpx.Response(302, headers={"Location": "/prices/7"}), "same host, not followed"),
    (httpx.Response(404, json={}), "HTTP 404"),
])
async def test_unusable_responses_are_bad_gateway_and_not_retried(
    make_settings: Callable[..., Settings], response: httpx.Response, detail: str
) -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return streamed(response)

    error = await price_or_error(client_with(make_settings, handler))
    assert (error.status, error.reason) == (502, "bad_response")
    assert detail in error.detail
    assert calls == 1


async def test_connection_errors_are_retried_then_503(make_settings: Callable[..., Settings]) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    error = await price_or_error(client_with(make_settings, handler, pricing_max_attempts=4,
                                             pricing_breaker_threshold=10))
    assert (error.status, error.reason) == (503, "unavailable")
    assert calls == 4


async def test_retries_stop_when_the_breaker_opens(make_settings: Callable[..., Settings]) -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503)

    error = await price_or_error(client_with(make_settings, handler, pricing_max_attempts=5,
                                             pricing_breaker_threshold=2))
    assert error.reason == "breaker_open"
    assert error.retry_after_s is not None
    assert error.retry_after_s > 0
    assert calls == 2


def test_trace_context_continues_the_callers_trace_or_starts_one() -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    out = outbound_trace_headers({"traceparent": incoming})["traceparent"]
    assert out.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert out.split("-")[2] != "b7ad6b7169203331"  # our own hop
    minted = outbound_trace_headers({"traceparent": "garbage"})["traceparent"].split("-")
    assert len(minted[1]) == 32
    assert minted[1] != "0" * 32


def test_non_http_url_is_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="http"):
        PricingClient(make_settings(pricing_url="file:///etc/passwd"))


async def test_quote_without_a_configured_downstream_is_a_documented_503(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(client)
    item = await create_item(client, user)
    r = await client.get(f"/api/v1/items/{item['id']}/quote", headers=user.headers)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "not configured" in r.json()["detail"]
    op = app.openapi()["paths"]["/api/v1/items/{item_id}/quote"]["get"]
    assert op["operationId"] == "items_quote"
    assert {"200", "401", "403", "404", "422", "429", "502", "503"} <= set(op["responses"])
    assert "application/problem+json" in op["responses"]["503"]["content"]
    assert "Retry-After" in op["responses"]["503"]["headers"]
    assert {"X-Served-Stale", "Warning"} <= set(op["responses"]["200"]["headers"])


async def test_with_tracing_the_httpx_instrumentation_injects_the_current_span(
    make_settings: Callable[..., Settings],
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return streamed(httpx.Response(200, json=GOOD))

    settings = make_settings(pricing_url="http://pricing.internal")
    client = PricingClient(settings, transport=httpx.MockTransport(handler), tracer_provider=provider)
    try:
        with provider.get_tracer("test").start_as_current_span("server") as span:
            await client.get_price(7, Decimal("8.00"))
    finally:
        await client.aclose()
        provider.shutdown()
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert seen[0].headers["traceparent"].split("-")[1] == trace_id
