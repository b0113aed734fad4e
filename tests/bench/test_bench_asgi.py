"""A request through the full middleware stack vs the bare app (in-process ASGI calls).

Both benchmarks are in one group so pytest-benchmark prints them side by side; their ratio is the
in-process cost of the middleware stack (CORS, correlation id, server timing, access log/metrics,
gzip, ...), without sockets, HTTP parsing or a load generator in the way. The load experiment
``middleware`` measures the same thing end to end (docs/load.md); NOTES-performance.md has the
reference figures (3 pure-ASGI layers ≈ 0.8 of bare; BaseHTTPMiddleware ≈ 0.12).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.bench.asgi import asgi_get
from tests.bench.conftest import BATCH, per_op, run_batch

pytestmark = pytest.mark.bench

PATH = "/api/v1/lab/hello"


def _hello_round(loop: asyncio.AbstractEventLoop, app: FastAPI) -> Callable[[], Any]:
    def one_round() -> Any:
        return run_batch(loop, lambda _i: asgi_get(app, PATH))

    return one_round


def _check(response: Any) -> dict[str, bytes]:
    assert response.status == 200, response.body
    assert json.loads(response.body) == {"message": "hello"}
    return {k.decode().lower(): v for k, v in response.headers}


@pytest.mark.benchmark(group="asgi: GET /api/v1/lab/hello x100")
def test_hello_full_stack(benchmark: Any, bench_loop: asyncio.AbstractEventLoop,
                          started_app: Callable[[str], FastAPI]) -> None:
    app = started_app("full")
    per_op(benchmark, BATCH)
    response = benchmark(_hello_round(bench_loop, app))
    headers = _check(response)
    assert "x-request-id" in headers  # the full stack really ran (correlation middleware)


@pytest.mark.benchmark(group="asgi: GET /api/v1/lab/hello x100")
def test_hello_bare(benchmark: Any, bench_loop: asyncio.AbstractEventLoop,
                    started_app: Callable[[str], FastAPI]) -> None:
    app = started_app("bare")
    per_op(benchmark, BATCH)
    response = benchmark(_hello_round(bench_loop, app))
    headers = _check(response)
    assert "x-request-id" not in headers  # and the bare app really is bare
