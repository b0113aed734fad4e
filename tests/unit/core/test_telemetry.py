"""Tracing is opt-in by settings; with an exporter the app is instrumented and still answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reference_app.core.telemetry import Metrics
from reference_app.main import create_app


def test_no_exporter_means_no_tracer(make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings())
    assert not hasattr(app.state, "tracer_provider")


@pytest.mark.parametrize("exporter", ["console", "otlp"])
async def test_exporter_instruments_the_app(
    make_settings: Callable[..., Any], client_for: Callable[..., Any], exporter: str
) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Ratio 0: spans are sampled out, so nothing is printed or sent anywhere.
    app = create_app(make_settings(otel_exporter=exporter, otel_sample_ratio=0.0,
                                   otel_endpoint="http://127.0.0.1:1/v1/traces" if exporter == "otlp" else None))
    try:
        async with client_for(app) as c:
            assert (await c.get("/api/v1/lab/hello")).status_code == 200
            provider = app.state.tracer_provider
            assert provider.resource.attributes["service.name"] == "reference-app"
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()


def test_request_observations_reach_the_registry() -> None:
    m = Metrics()
    m.requests.observe("GET", "/x/{id}", 200, 0.003)
    assert m.registry.get_sample_value("http_requests_total", {"method": "GET", "route": "/x/{id}",
                                                               "status": "200"}) == 1
    assert m.registry.get_sample_value("http_request_duration_seconds_count",
                                       {"method": "GET", "route": "/x/{id}"}) == 1


async def test_a_traced_request_has_its_database_spans(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    """SQLAlchemyInstrumentor's dependency check refuses SQLAlchemy 2.1 ("nothing can be instrumented"),
    and no span was made for a query; instrumented past the check, the engine's events give them."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.utils.factories import create_item, create_user

    app = create_app(make_settings(middleware="tracing", otel_exporter="discard", otel_sample_ratio=1.0))
    spans = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        async with client_for(app) as c:
            user = await create_user(c)
            spans.clear()
            await create_item(c, user)
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind.name == "SERVER"]
    queries = [s for s in finished if s.kind.name == "CLIENT" and s.attributes and "db.statement" in s.attributes]
    assert any(str(s.attributes["db.statement"]).startswith("INSERT") for s in queries if s.attributes)
    assert all(s.context.trace_id == server.context.trace_id for s in queries)


def test_traces_start_only_at_the_edge(make_settings: Callable[..., Any]) -> None:
    """A root server span is one the edge picked, so it is sampled whatever the ratio; a root of any
    other kind (a query or an outbound call outside a traced request, a background job's) starts no
    trace, even at ratio 1; a child follows its parent."""
    from opentelemetry.trace import SpanKind

    from reference_app.core.telemetry import build_tracer_provider

    provider = build_tracer_provider(make_settings(otel_exporter="discard", otel_sample_ratio=1.0))
    assert provider is not None
    tracer = provider.get_tracer("test")
    try:
        for kind in (SpanKind.CLIENT, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER):
            assert not tracer.start_span("root", kind=kind).is_recording(), kind
        with tracer.start_as_current_span("GET /x", kind=SpanKind.SERVER) as server:
            assert server.get_span_context().trace_flags.sampled
            child = tracer.start_span("SELECT", kind=SpanKind.CLIENT)
            assert child.get_span_context().trace_flags.sampled
            child.end()
    finally:
        provider.shutdown()


async def test_an_unpicked_request_and_its_queries_make_no_span(
    make_settings: Callable[..., Any], client_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge's draw decides for the whole request: its queries, which start root spans of their
    own when no server span is open, are dropped too, at any ratio."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.utils.factories import create_item, create_user

    app = create_app(make_settings(middleware="tracing", otel_exporter="discard", otel_sample_ratio=0.5))
    spans = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    draws = iter([0.9, 0.9, 0.9, 0.1])  # three requests lose the draw, the fourth wins
    monkeypatch.setattr("reference_app.core.telemetry.random", lambda: next(draws))  # the edge's draw only
    try:
        async with client_for(app) as c:
            user = await create_user(c)  # two requests: sign-up and token
            await create_item(c, user)
            assert spans.get_finished_spans() == ()
            await create_item(c, user)
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()
    finished = spans.get_finished_spans()
    assert [s.name for s in finished if s.kind.name == "SERVER"] == ["POST /api/v1/items"]
    assert any(s.kind.name == "CLIENT" for s in finished)
