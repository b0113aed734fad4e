"""Prometheus metrics and OpenTelemetry tracing.

Metrics live in a per-app registry so that many apps (tests) can coexist in one process. Tracing
is instrumented only when an exporter is configured, and sampled: NOTES-performance.md measured
off-the-shelf instrumentation at ~3/4 of throughput, so it is opt-in and its cost is its own A/B arm.
"""

from __future__ import annotations

from random import random
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.core.asgi import route_template
from reference_app.core.request_metrics import RequestMetrics

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
    from sqlalchemy.ext.asyncio import AsyncEngine

    from reference_app.core.config import Settings

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestMetrics(LATENCY_BUCKETS)
        self.registry.register(self.requests)
        self.cache = Counter(
            "cache_lookups_total", "Item cache lookups by outcome.", ["outcome"], registry=self.registry
        )
        self.rate_limited = Counter(
            "rate_limited_total", "Requests refused by the rate limiter.", ["scope"], registry=self.registry
        )
        self.ws_connections = Gauge(
            "websocket_connections", "Open websocket connections.", registry=self.registry
        )
        # The two outcomes' children, looked up once: ``labels()`` takes a lock and builds a key tuple
        # on every call, and one of them is bumped on every cached read.
        self._cache_outcomes = {True: self.cache.labels("hit"), False: self.cache.labels("miss")}
        self.jobs = Counter("background_jobs_total", "Background jobs by outcome.", ["outcome"], registry=self.registry)
        self.db_pool = Gauge("db_pool_checked_out", "Database connections checked out of the pool.",
                             registry=self.registry)

    def watch_pool(self, engine: AsyncEngine) -> None:
        """Read the pool's checked-out count at scrape time (a soak plots it next to memory)."""
        checkedout = getattr(engine.sync_engine.pool, "checkedout", None)  # StaticPool has none
        if callable(checkedout):
            self.db_pool.set_function(lambda: float(checkedout()))

    def cache_lookup(self, hit: bool) -> None:
        self._cache_outcomes[hit].inc()


def build_tracer_provider(settings: Settings) -> TracerProvider | None:
    """The configured exporter behind a sampled, batching provider; None for ``none``.

    ``discard`` instruments and samples like a real exporter but drops the spans: it measures
    tracing's in-process cost (the middleware experiment's ``tracing`` arm) without a collector.
    """
    if settings.otel_exporter == "none":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.sampling import ParentBased

    class DiscardingExporter(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    exporter: SpanExporter
    if settings.otel_exporter == "console":
        exporter = ConsoleSpanExporter()
    elif settings.otel_exporter == "discard":
        exporter = DiscardingExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint) if settings.otel_endpoint else OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.app_name}),
        sampler=ParentBased(_edge_sampler()),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _edge_sampler() -> Sampler:
    """The sampler of traces that start here: a server span is one the edge picked (``EdgeTracer``
    calls OpenTelemetry's middleware, which opens it, only for those), so it is sampled; any other
    root, a database, Redis or outbound call outside a traced request (an unpicked request's, a
    background job's), starts no trace. Spans with a parent follow it (``ParentBased``).

    No per-request state: an earlier version kept the edge's choice in a context variable for the
    sampler to read, and set and reset it on every request, picked or not."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class EdgeSampler(Sampler):
        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
            return SamplingResult(Decision.RECORD_AND_SAMPLE if kind is SpanKind.SERVER else Decision.DROP, attributes)

        def get_description(self) -> str:
            return "EdgeSampler"

    return EdgeSampler()


class EdgeTracer:
    """Tracing at the sampling ratio, paid only by the requests that are traced.

    FastAPIInstrumentor cost ~3/4 of /lab/hello's throughput at a 5% ratio: every request, sampled
    or not, got a route lookup over all routes (to name its span) and three spans (docs/load.md).
    Here the decision comes first: a request that carries a ``traceparent`` (its parent decides, as
    ParentBased does) or wins the ratio draw goes through OpenTelemetry's ASGI middleware; every
    other request goes straight on, with no span at all. The span is named from the matched route
    template once the app has routed the request.

    Not a middleware of its own: the request-telemetry layer (core/middleware.py) asks it per
    request, which spares every request one more ASGI layer.
    """

    def __init__(self, app: ASGIApp, *, provider: TracerProvider, ratio: float, excluded_urls: str) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.ratio = ratio
        self.traced = OpenTelemetryMiddleware(
            _NameSpanFromRoute(app), excluded_urls=excluded_urls, tracer_provider=provider,
            default_span_details=lambda scope: (scope.get("method") or "HTTP", {}),
            exclude_spans=["receive", "send"],
        )

    def app_for(self, has_parent: bool, untraced: ASGIApp) -> ASGIApp:
        """The app to call for a request (``has_parent``: it carries a ``traceparent``): the traced
        one if the request is picked, else ``untraced``."""
        return self.traced if has_parent or random() < self.ratio else untraced  # noqa: S311 - sampling, not security


class _NameSpanFromRoute:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry import trace

        span = trace.get_current_span()  # the server span OpenTelemetry's middleware just started

        def name_span() -> None:
            if span.is_recording():
                template = route_template(scope)
                span.set_attribute("http.route", template)
                span.update_name(f"{scope['method']} {template}" if scope["type"] == "http" else template)

        async def send_naming(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                name_span()  # routed by now
            await send(message)

        await self.app(scope, receive, send_naming)


def instrument_backends(settings: Settings, engine: AsyncEngine, provider: TracerProvider) -> None:
    """Database and Redis spans, once the engine exists (in the lifespan)."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # skip_dep_check: the instrumentation declares "sqlalchemy < 2.1" and, with 2.1 installed, logged
    # "nothing can be instrumented" and made no database span. What it hooks, the engine's
    # before/after_cursor_execute events, is unchanged in 2.1; the test of a traced request's
    # database spans keeps that claim honest.
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True)
    if settings.redis_url:
        RedisInstrumentor().instrument(tracer_provider=provider)
