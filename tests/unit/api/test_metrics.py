"""Prometheus /metrics: per-app registry, http_requests_total labelled by route template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from reference_app.main import create_app
from tests.utils.factories import UserHandle, create_item


async def test_metrics_expose_route_templates(client: httpx.AsyncClient, user: UserHandle) -> None:
    item = await create_item(client, user)
    await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)
    await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'http_requests_total{method="GET",route="/api/v1/items/{item_id}",status="200"} 2.0' in text
    assert 'http_requests_total{method="POST",route="/api/v1/items",status="201"} 1.0' in text
    assert f"/api/v1/items/{item['id']}\"" not in text  # never the raw path: unbounded label cardinality
    assert "http_request_duration_seconds_bucket" in text


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path")
    await client.get("/another/missing/path")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 2.0' in text


async def test_rate_limited_requests_are_counted(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app: FastAPI = create_app(make_settings(lab_limit="1/minute"))
    async with client_for(app) as c:
        await c.get("/api/v1/lab/limited")
        await c.get("/api/v1/lab/limited")
        text = (await c.get("/metrics")).text
    assert 'rate_limited_total{scope="lab"} 1.0' in text


async def test_each_app_has_its_own_registry(make_settings: Callable[..., Any]) -> None:
    a, b = create_app(make_settings()), create_app(make_settings())
    assert a.state.metrics.registry is not b.state.metrics.registry


async def test_metrics_can_be_disabled(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(metrics_enabled=False))
    async with client_for(app) as c:
        assert (await c.get("/metrics")).status_code == 404
        assert (await c.get("/api/v1/lab/hello")).status_code == 200
