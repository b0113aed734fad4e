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


def test_metrics_observe() -> None:
    m = Metrics()
    m.observe("GET", "/x/{id}", 200, 0.003)
    assert m.registry.get_sample_value("http_requests_total", {"method": "GET", "route": "/x/{id}",
                                                               "status": "200"}) == 1
    assert m.registry.get_sample_value("http_request_duration_seconds_count",
                                       {"method": "GET", "route": "/x/{id}"}) == 1
