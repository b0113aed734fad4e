"""Outbound calls to the pricing downstream, with a failure policy (docs/downstream.md).

One ``httpx.AsyncClient`` per app, built in the lifespan: pooled connections (limits), explicit
connect/read/write/pool timeouts, redirects never followed, compressed bodies refused. A call is::

    fast fail if the breaker is open
    -> bulkhead slot (bounded wait, else 503)
    -> total deadline (asyncio.timeout) around
         tenacity retries (idempotent GETs only; exponential backoff + jitter; stop before the budget runs out)
           -> circuit breaker attempt (every failed attempt counts; half-open admits one probe)
                -> streamed GET, status checked, body capped at N bytes, parsed by Pydantic

and ends as a validated ``DownstreamPrice`` or a ``PricingError`` that the API turns into a stale
quote, a 503 (with Retry-After) or a 502. The downstream never causes a hang or a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from reference_app.core.context import request_id_var
from reference_app.core.resilience import (
    BreakerState,
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
)
from reference_app.schemas.pricing import DownstreamPrice

if TYPE_CHECKING:
    from reference_app.core.config import Settings
    from reference_app.core.telemetry import Metrics

log = logging.getLogger("refapp.pricing")
DOWNSTREAM = "pricing"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_PROPAGATOR = TraceContextTextMapPropagator()
_IDS = RandomIdGenerator()

Reason = Literal["not_configured", "breaker_open", "bulkhead_full", "timeout", "unavailable", "bad_response"]


class PricingError(Exception):
    """A failed quote. ``status`` is what the client gets when no stale quote can be served."""

    def __init__(self, reason: Reason, detail: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        return 502 if self.reason == "bad_response" else 503


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix (connection, timeout, 5xx, 429)."""


class _BadResponse(Exception):
    """The downstream answered, but with something we refuse to consume (never retried)."""


# -- metrics ---------------------------------------------------------------------------------------
class DownstreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.breaker_state = Gauge(
            "downstream_circuit_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
            ["downstream"], registry=registry,
        )
        self.breaker_transitions = Counter(
            "downstream_circuit_transitions_total", "Circuit breaker state changes.",
            ["downstream", "from_state", "to_state"], registry=registry,
        )
        self.calls = Counter(
            "downstream_calls_total", "Outbound calls by final outcome.", ["downstream", "outcome"],
            registry=registry,
        )
        self.attempts = Counter(
            "downstream_attempts_total", "Outbound HTTP attempts by result (retries included).",
            ["downstream", "result"], registry=registry,
        )
        self.duration = Histogram(
            "downstream_call_duration_seconds", "Outbound call time, retries and waits included.",
            ["downstream"], registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.bulkhead_in_flight = Gauge(
            "downstream_bulkhead_in_flight", "Calls holding a bulkhead slot.", ["downstream"], registry=registry,
        )


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, DownstreamMetrics] = weakref.WeakKeyDictionary()


def downstream_metrics(registry: CollectorRegistry) -> DownstreamMetrics:
    """One set per registry (an app's lifespan may run more than once)."""
    metrics = _METRICS.get(registry)
    if metrics is None:
        metrics = _METRICS[registry] = DownstreamMetrics(registry)
    return metrics


# -- trace context ---------------------------------------------------------------------------------
def outbound_trace_headers(incoming: Mapping[str, str]) -> dict[str, str]:
    """W3C trace context for the outbound hop when no tracer is installed.

    Continues the caller's trace (same trace-id, a fresh parent-id for our hop) or starts one; the
    OTel propagator writes ``traceparent``/``tracestate``. With tracing enabled the httpx
    instrumentation injects the real span instead and this is not used.
    """
    parent = trace.get_current_span(_PROPAGATOR.extract(dict(incoming))).get_span_context()
    if parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, flags, state = _IDS.generate_trace_id(), TraceFlags(TraceFlags.DEFAULT), None
    span = NonRecordingSpan(SpanContext(trace_id, _IDS.generate_span_id(), is_remote=False,
                                        trace_flags=flags, trace_state=state))
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def trace_id_of(headers: Mapping[str, str]) -> str | None:
    ctx = trace.get_current_span(_PROPAGATOR.extract(dict(headers))).get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def _current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


# -- the client ------------------------------------------------------------------------------------
class PricingClient:
    def __init__(self, settings: Settings, *, metrics: DownstreamMetrics | None = None,
                 tracer_provider: Any = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.url = settings.pricing_url.rstrip("/") if settings.pricing_url else None
        self._host = urlsplit(self.url).hostname if self.url else None
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("REFAPP_PRICING_URL must be an http(s) URL")
        self.breaker = CircuitBreaker(
            DOWNSTREAM, failure_threshold=settings.pricing_breaker_threshold,
            reset_timeout_s=settings.pricing_breaker_reset_s, enabled=settings.pricing_breaker_enabled,
            on_transition=self._on_transition,
        )
        self.bulkhead = Bulkhead(DOWNSTREAM, size=settings.pricing_bulkhead_size,
                                 max_wait_s=settings.pricing_bulkhead_wait_s)
        self.traced = tracer_provider is not None
        self.http: httpx.AsyncClient | None = None
        if self.url is not None:
            self.http = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(connect=settings.pricing_connect_timeout_s,
                                      read=settings.pricing_read_timeout_s,
                                      write=settings.pricing_write_timeout_s,
                                      pool=settings.pricing_pool_timeout_s),
                limits=httpx.Limits(max_connections=settings.pricing_max_connections,
                                    max_keepalive_connections=settings.pricing_max_keepalive),
                follow_redirects=False,
                trust_env=False,  # no proxy or netrc from the environment on a service-to-service hop
                transport=transport,
                headers={"Accept": "application/json", "Accept-Encoding": "identity",
                         "User-Agent": "refapp-pricing-client/1"},
            )
            if tracer_provider is not None:
                from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

                HTTPXClientInstrumentor.instrument_client(self.http, tracer_provider=tracer_provider)
        if metrics is not None:
            metrics.breaker_state.labels(DOWNSTREAM).set(BreakerState.CLOSED.code)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    def _on_transition(self, name: str, old: BreakerState, new: BreakerState) -> None:
        log.warning("circuit breaker transition", extra={"downstream": name, "from_state": old.value,
                                                         "to_state": new.value})
        if self.metrics is not None:
            self.metrics.breaker_state.labels(name).set(new.code)
            self.metrics.breaker_transitions.labels(name, old.value, new.value).inc()

    # -- public -------------------------------------------------------------------------------
    async def get_price(self, item_id: int, base: Decimal, *,
                        trace_headers: Mapping[str, str] | None = None) -> DownstreamPrice:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._call("GET", f"/prices/{item_id}", item_id, {"base": str(base)}, trace_headers)
        except PricingError as exc:
            outcome = exc.reason
            raise
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.calls.labels(DOWNSTREAM, outcome).inc()
                self.metrics.duration.labels(DOWNSTREAM).observe(elapsed)
            log.info("downstream call", extra={
                "downstream": DOWNSTREAM, "outcome": outcome, "duration_ms": round(elapsed * 1000, 3),
                "trace_id": trace_id_of(trace_headers) if trace_headers else _current_trace_id(),
                "breaker": self.breaker.state.value,
            })

    # -- internals ----------------------------------------------------------------------------
    async def _call(self, method: str, path: str, item_id: int, params: Mapping[str, str],
                    trace_headers: Mapping[str, str] | None) -> DownstreamPrice:
        if self.http is None:
            raise PricingError("not_configured", "Pricing is not configured on this deployment.")
        # Fail fast: an open breaker must not even queue for a bulkhead slot.
        if self.breaker.enabled and self.breaker.state is BreakerState.OPEN:
            raise PricingError("breaker_open", "Pricing is failing; the circuit breaker is open.",
                               retry_after_s=self.breaker.retry_after_s())
        headers = dict(trace_headers or {})
        request_id = request_id_var.get()
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            try:
                async with self.bulkhead.slot():
                    self._report_bulkhead()
                    async with asyncio.timeout(self.settings.pricing_total_timeout_s):
                        return await self._with_retries(method, path, item_id, params, headers)
            finally:
                self._report_bulkhead()
        except BulkheadFullError:
            raise PricingError("bulkhead_full", "Too many pricing calls in flight; retry shortly.",
                               retry_after_s=1.0) from None
        except CircuitOpenError as exc:
            raise PricingError("breaker_open", "Pricing is failing; the circuit breaker is open.",
                               retry_after_s=exc.retry_after_s) from None
        except TimeoutError:
            raise PricingError("timeout", f"Pricing did not answer within "
                               f"{self.settings.pricing_total_timeout_s:g}s.", retry_after_s=1.0) from None
        except _Retryable as exc:
            raise PricingError("unavailable", f"Pricing is unavailable ({exc}).", retry_after_s=1.0) from None
        except _BadResponse as exc:
            raise PricingError("bad_response", f"Pricing sent an unusable response ({exc}).") from None

    def _report_bulkhead(self) -> None:
        if self.metrics is not None:
            self.metrics.bulkhead_in_flight.labels(DOWNSTREAM).set(self.bulkhead.in_flight)

    async def _with_retries(self, method: str, path: str, item_id: int, params: Mapping[str, str],
                            headers: dict[str, str]) -> DownstreamPrice:
        s = self.settings
        attempts = s.pricing_max_attempts if method in IDEMPOTENT else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts) | stop_before_delay(s.pricing_total_timeout_s),
            # multiplier x 2^n, capped, plus uniform jitter in [0, multiplier).
            wait=wait_exponential_jitter(multiplier=s.pricing_backoff_initial_s, max=s.pricing_backoff_max_s,
                                         jitter=s.pricing_backoff_initial_s),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(method, path, item_id, params, headers)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.metrics is not None:
            self.metrics.attempts.labels(DOWNSTREAM, "retried").inc()

    async def _attempt(self, method: str, path: str, item_id: int, params: Mapping[str, str],
                       headers: dict[str, str]) -> DownstreamPrice:
        assert self.http is not None
        result = "ok"
        try:
            with self.breaker.attempt():
                return await self._exchange(method, path, item_id, params, headers)
        except CircuitOpenError:
            result = "rejected_open"
            raise
        except _Retryable:
            result = "retryable_error"
            raise
        except _BadResponse:
            result = "bad_response"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.attempts.labels(DOWNSTREAM, result).inc()

    async def _exchange(self, method: str, path: str, item_id: int, params: Mapping[str, str],
                        headers: dict[str, str]) -> DownstreamPrice:
        assert self.http is not None
        limit = self.settings.pricing_max_response_bytes
        try:
            async with self.http.stream(method, path, params=params, headers=headers) as resp:
                status = resp.status_code
                if resp.is_redirect or 300 <= status < 400:
                    target = urlsplit(resp.headers.get("location", ""))
                    where = "another host" if target.hostname and target.hostname != self._host else "same host"
                    raise _BadResponse(f"redirect ({status}) to {where}, not followed")
                if status in RETRYABLE_STATUS:
                    raise _Retryable(f"HTTP {status}")
                if status != 200:
                    raise _BadResponse(f"HTTP {status}")
                if resp.headers.get("content-encoding", "identity").lower() != "identity":
                    raise _BadResponse("compressed body refused")
                if not resp.headers.get("content-type", "").startswith("application/json"):
                    raise _BadResponse("not JSON")
                declared = resp.headers.get("content-length")
                if declared is not None and (not declared.isdigit() or int(declared) > limit):
                    raise _BadResponse(f"body larger than {limit} bytes")
                body = bytearray()
                async for chunk in resp.aiter_raw():
                    body += chunk
                    if len(body) > limit:
                        raise _BadResponse(f"body larger than {limit} bytes")
        except httpx.TimeoutException as exc:
            raise _Retryable(f"{type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}") from exc
        try:
            price = DownstreamPrice.model_validate_json(bytes(body))
        except ValidationError as exc:
            raise _BadResponse(f"invalid body: {exc.error_count()} validation error(s)") from exc
        if price.item_id != item_id:
            raise _BadResponse("answered for a different item")
        return price


def build_pricing_client(settings: Settings, metrics: Metrics | None, tracer_provider: Any = None) -> PricingClient:
    """Called from the app's lifespan; ``aclose()`` it on shutdown."""
    dm = downstream_metrics(metrics.registry) if metrics is not None else None
    return PricingClient(settings, metrics=dm, tracer_provider=tracer_provider)
