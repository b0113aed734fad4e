"""Prometheus metrics and OpenTelemetry tracing.

Metrics live in a per-app registry so that many apps (tests) can coexist in one process. Tracing
is instrumented only when an exporter is configured, and sampled: NOTES-performance.md measured
off-the-shelf instrumentation at ~3/4 of throughput, so it is opt-in and its cost is its own A/B arm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine

    from reference_app.core.config import Settings

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "HTTP requests by route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "Time from request to last response byte.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.cache = Counter(
            "cache_lookups_total", "Item cache lookups by outcome.", ["outcome"], registry=self.registry
        )
        self.rate_limited = Counter(
            "rate_limited_total", "Requests refused by the rate limiter.", ["scope"], registry=self.registry
        )
        self.ws_connections = Gauge(
            "websocket_connections", "Open websocket connections.", registry=self.registry
        )
        self.jobs = Counter("background_jobs_total", "Background jobs by outcome.", ["outcome"], registry=self.registry)
        self.db_pool = Gauge("db_pool_checked_out", "Database connections checked out of the pool.",
                             registry=self.registry)

    def watch_pool(self, engine: AsyncEngine) -> None:
        """Read the pool's checked-out count at scrape time (a soak plots it next to memory)."""
        checkedout = getattr(engine.sync_engine.pool, "checkedout", None)  # StaticPool has none
        if callable(checkedout):
            self.db_pool.set_function(lambda: float(checkedout()))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def setup_tracing(app: FastAPI, settings: Settings, engine: AsyncEngine) -> None:
    """Instrument FastAPI, SQLAlchemy and Redis with the configured exporter (no-op for ``none``)."""
    if settings.otel_exporter == "none":
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    exporter: SpanExporter
    if settings.otel_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint) if settings.otel_endpoint else OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.app_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    app.state.tracer_provider = provider
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="health/live,metrics")
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider)
    if settings.redis_url:
        RedisInstrumentor().instrument(tracer_provider=provider)
