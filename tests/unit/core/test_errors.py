"""Problem details (RFC 9457) for every error; a 500 never leaks the exception."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.core.context import request_id_var
from reference_app.core.errors import (
    PROBLEM_JSON,
    AppError,
    Conflict,
    PayloadTooLarge,
    problem_response,
    problem_responses,
)
from reference_app.core.logging import JsonFormatter
from reference_app.main import create_app

SECRET_DETAIL = "password=hunter2 at /srv/refapp/secret.py"


@pytest.fixture
async def boom_client(make_settings: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """An app with test-only routes that raise, served without re-raising app errors into the test."""
    app = create_app(make_settings())

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @app.get("/test-only/conflict")
    async def conflict() -> None:
        raise Conflict("custom detail")

    @app.get("/test-only/bare-app-error")
    async def bare() -> None:
        raise AppError()

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status
    assert r.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope", headers={"X-Request-ID": "req-404-abcdef"})
    body = assert_problem(r, 404)
    assert body["title"] == "Not Found"
    assert body["instance"] == "/nope"
    assert body["request_id"] == "req-404-abcdef" == r.headers["x-request-id"]


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    r = await client.delete("/health/live")
    body = assert_problem(r, 405)
    assert body["title"] == "Method Not Allowed"
    assert "GET" in r.headers["allow"]


async def test_validation_error_is_422_problem_with_field_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/users", json={"email": "nope", "password": "x"})
    body = assert_problem(r, 422)
    assert body["type"] == "https://refapp.example/problems/validation"
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert {("body", "email"), ("body", "password")} <= locs
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


async def test_malformed_json_is_422_problem(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/users", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(r, 422)


async def test_unhandled_exception_is_500_without_leaks(boom_client: httpx.AsyncClient) -> None:
    r = await boom_client.get("/test-only/boom", headers={"X-Request-ID": "req-500-abcdef"})
    body = assert_problem(r, 500)
    assert body["detail"] == "An unexpected error occurred."
    assert body["type"] == "https://refapp.example/problems/internal"
    for leak in ("hunter2", "secret.py", "Traceback", "RuntimeError"):
        assert leak not in r.text
    assert body["request_id"] == "req-500-abcdef"
    assert r.headers["x-request-id"] == "req-500-abcdef"


async def test_unhandled_exception_is_logged_with_traceback(boom_client: httpx.AsyncClient) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            self.lines.append(self.format(record))  # formatted now, while the request context is live

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logging.getLogger("refapp.errors").addHandler(handler)
    try:
        await boom_client.get("/test-only/boom", headers={"X-Request-ID": "req-log-abcdef"})
    finally:
        logging.getLogger("refapp.errors").removeHandler(handler)
    (record,) = records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    line = json.loads(handler.lines[0])
    assert line["request_id"] == "req-log-abcdef"
    assert "RuntimeError" in line["exc"]


async def test_app_error_renders_its_class(boom_client: httpx.AsyncClient) -> None:
    body = assert_problem(await boom_client.get("/test-only/conflict"), 409)
    assert body == body | {"type": "https://refapp.example/problems/conflict", "title": "Conflict",
                           "detail": "custom detail", "instance": "/test-only/conflict"}


async def test_bare_app_error_is_a_500_without_detail(boom_client: httpx.AsyncClient) -> None:
    body = assert_problem(await boom_client.get("/test-only/bare-app-error"), 500)
    assert "detail" not in body


async def test_401_carries_www_authenticate(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/users/me")
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


def test_problem_response_omits_empty_fields() -> None:
    r = problem_response(418)
    assert r.media_type == PROBLEM_JSON
    assert r.body == b'{"type":"about:blank","title":"Error","status":418}'


def test_problem_response_carries_context_request_id_and_errors() -> None:
    token = request_id_var.set("rid-12345678")
    try:
        r = problem_response(422, slug="validation", errors=[{"loc": ["body", 0], "msg": "bad", "type": "t"}])
    finally:
        request_id_var.reset(token)
    assert b'"request_id":"rid-12345678"' in r.body
    assert b'"errors":[{"loc":["body",0],"msg":"bad","type":"t"}]' in r.body


def test_problem_responses_reference_the_problem_schema() -> None:
    docs = problem_responses(404, 429)
    assert set(docs) == {404, 429}
    assert docs[429]["description"] == "Too Many Requests"
    assert docs[404]["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_error_classes_carry_status_and_headers() -> None:
    e = PayloadTooLarge("big", headers={"X-A": "1"})
    assert (e.status, e.slug, e.detail, e.headers) == (413, "payload-too-large", "big", {"X-A": "1"})
    assert str(Conflict()) == "Conflict"


def test_openapi_422_defaults_are_documented_as_problems(make_settings: Callable[..., Any]) -> None:
    app: FastAPI = create_app(make_settings())

    @app.get("/test-only/{n}")
    async def takes_int(n: int) -> dict[str, int]:
        return {"n": n}

    spec = app.openapi()
    assert app.openapi() is spec
    resp = spec["paths"]["/test-only/{n}"]["get"]["responses"]["422"]
    assert resp["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
