"""Pure-ASGI middleware: correlation id, Server-Timing, JSON access log, GZip, CORS, body size cap."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from reference_app.core.context import request_id_var
from reference_app.core.logging import JsonFormatter, configure_logging
from reference_app.core.middleware import BodySizeLimitMiddleware, RequestTelemetryMiddleware
from reference_app.main import create_app
from tests.utils.factories import UserHandle, create_item

Settings = Callable[..., Any]


class Lines(logging.Handler):
    """Formats each record at emit time, i.e. while the request's context is still set."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("refapp.access")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


# ---- correlation id ---------------------------------------------------------------------------------


async def test_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/lab/hello", headers={"X-Request-ID": "abc-123_DEF.456:789"})
    assert r.headers["x-request-id"] == "abc-123_DEF.456:789"


@pytest.mark.parametrize("bad", ["short", "x" * 129, "has space in it", "semi;colon;value", "<script>alert(1)"])
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    r = await client.get("/api/v1/lab/hello", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


async def test_the_first_of_two_request_ids_is_kept(client: httpx.AsyncClient) -> None:
    ids = [("X-Request-ID", "first-id-0001"), ("X-Request-ID", "second-id-002")]
    r = await client.get("/api/v1/lab/hello", headers=ids)
    assert r.headers["x-request-id"] == "first-id-0001"


async def test_request_id_is_generated_and_unique(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/api/v1/lab/hello")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


async def test_request_id_is_on_error_responses_and_bodies(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/users/me", headers={"X-Request-ID": "trace-me-please"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == r.json()["request_id"] == "trace-me-please"


async def test_correlation_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        assert request_id_var.get() is None

    await RequestTelemetryMiddleware(inner, correlation=True, timing=True)({"type": "lifespan"}, _no_receive, _no_send)
    assert seen == ["lifespan"]


# ---- Server-Timing ------------------------------------------------------------------------------------


async def test_server_timing_is_present(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/lab/hello")
    assert re.fullmatch(r"app;dur=\d+\.\d{2}", r.headers["server-timing"])


# ---- access log -----------------------------------------------------------------------------------------


async def test_access_log_line_is_json_with_request_id(
    make_settings: Settings, client_for: Callable[..., Any], access_lines: Lines
) -> None:
    app = create_app(make_settings(access_log=True))
    async with client_for(app) as c:
        await c.get("/api/v1/items/7", headers={"X-Request-ID": "log-line-0001"})
    (line,) = [ln for ln in access_lines.lines if ln["msg"] == "request"]
    assert line["request_id"] == "log-line-0001"
    assert line == line | {"logger": "refapp.access", "level": "info", "method": "GET", "path": "/api/v1/items/7",
                           "route": "/api/v1/items/{item_id}", "status": 401, "client": "203.0.113.7"}
    assert isinstance(line["duration_ms"], float)


async def test_access_lines_are_sampled_but_errors_and_slow_requests_always_logged(
    make_settings: Settings, client_for: Callable[..., Any], access_lines: Lines
) -> None:
    """REFAPP_ACCESS_LOG_SAMPLE_RATIO: every error and slow request gets its line with sample_rate 1;
    of the rest a random share, each line standing for 1/ratio requests."""
    app = create_app(make_settings(access_log=True, access_log_sample_ratio=0.25, access_log_slow_ms=60_000))
    async with client_for(app) as c:
        for _ in range(400):
            assert (await c.get("/api/v1/lab/hello")).status_code == 200
        for _ in range(20):
            assert (await c.get("/api/v1/items/7")).status_code == 401
    lines = [ln for ln in access_lines.lines if ln["msg"] == "request"]
    errors = [ln for ln in lines if ln["status"] == 401]
    sampled = [ln for ln in lines if ln["status"] == 200]
    assert len(errors) == 20
    assert {ln["sample_rate"] for ln in errors} == {1}
    # Binomial(400, 0.25): mean 100, sd 8.7; outside 50..150 has probability < 1e-8.
    assert 50 <= len(sampled) <= 150, len(sampled)
    assert {ln["sample_rate"] for ln in sampled} == {4}


@pytest.mark.parametrize(("ratio", "slow_ms", "lines_for_200s", "rate"), [
    (0.0, 60_000, 0, None),  # errors and slow requests only
    (1.0, 60_000, 5, 1),  # every request
    (0.0, 0, 5, 1),  # a threshold of 0 ms makes every request slow
])
async def test_access_log_sampling_edges(
    make_settings: Settings, client_for: Callable[..., Any], access_lines: Lines,
    ratio: float, slow_ms: float, lines_for_200s: int, rate: int | None,
) -> None:
    app = create_app(make_settings(access_log=True, access_log_sample_ratio=ratio, access_log_slow_ms=slow_ms))
    async with client_for(app) as c:
        for _ in range(5):
            await c.get("/api/v1/lab/hello")
    lines = [ln for ln in access_lines.lines if ln["msg"] == "request"]
    assert len(lines) == lines_for_200s
    assert all(ln["sample_rate"] == rate for ln in lines)


async def test_a_sampled_line_stands_for_exactly_one_over_the_ratio(
    make_settings: Settings, client_for: Callable[..., Any], access_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.3 -> 3.33..., not 3: a rounded rate would undercount the summed log by a tenth."""
    monkeypatch.setattr("reference_app.core.middleware.random", lambda: 0.0)  # every draw wins
    app = create_app(make_settings(access_log=True, access_log_sample_ratio=0.3, access_log_slow_ms=60_000))
    async with client_for(app) as c:
        await c.get("/api/v1/lab/hello")
    (line,) = [ln for ln in access_lines.lines if ln["msg"] == "request"]
    assert line["sample_rate"] == pytest.approx(1 / 0.3)


def test_the_default_samples_access_lines(make_settings: Settings) -> None:
    settings = make_settings()
    assert (settings.access_log_sample_ratio, settings.access_log_slow_ms) == (0.01, 500.0)


async def test_access_log_can_be_disabled(client: httpx.AsyncClient, access_lines: Lines) -> None:
    await client.get("/api/v1/lab/hello")  # the fixture settings turn the access log off
    assert access_lines.lines == []


async def test_every_app_log_line_carries_the_request_id(
    client: httpx.AsyncClient, user: UserHandle
) -> None:
    handler = Lines()
    logging.getLogger("refapp").addHandler(handler)
    try:
        await client.post("/api/v1/auth/password-reset", json={"email": user.email},
                          headers={"X-Request-ID": "reset-req-0001"})
    finally:
        logging.getLogger("refapp").removeHandler(handler)
    (line,) = [ln for ln in handler.lines if ln["msg"] == "password reset requested"]
    assert line["request_id"] == "reset-req-0001"
    assert line["email_domain"] == "example.com"


def test_json_formatter_includes_extras_and_exceptions() -> None:
    try:
        raise ValueError("kaput")
    except ValueError:
        record = logging.getLogger("refapp.test").makeRecord(
            "refapp.test", logging.WARNING, __file__, 1, "hello %s", ("world",), exc_info=True,
            extra={"answer": 42},
        )
        import sys

        record.exc_info = sys.exc_info()
    token = request_id_var.set("rid-formatter")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello world"
    assert (line["level"], line["answer"], line["request_id"]) == ("warning", 42, "rid-formatter")
    assert "ValueError: kaput" in line["exc"]
    assert line["ts"].endswith("+00:00")


def test_configure_logging_is_idempotent() -> None:
    configure_logging("debug")
    configure_logging("INFO")
    root = logging.getLogger("refapp")
    assert len(root.handlers) == 1
    assert root.level == logging.INFO
    assert root.propagate is False


# ---- GZip --------------------------------------------------------------------------------------------


async def test_large_json_is_gzipped(client: httpx.AsyncClient, user: UserHandle) -> None:
    for i in range(8):
        await create_item(client, user, description="lorem ipsum " * 20, name=f"gz-{i}")
    r = await client.get("/api/v1/items", headers=user.headers | {"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(r.content)  # httpx decoded it; the wire was smaller
    assert r.json()["total"] == 8


async def test_small_json_is_not_gzipped(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/lab/hello", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers


async def _gzip_app(body: list[bytes], *, minimum_size: int = 100, content_type: bytes = b"text/plain") -> Any:
    from reference_app.core.middleware import SelectiveGZipMiddleware

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        for i, chunk in enumerate(body):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(body) - 1})

    return SelectiveGZipMiddleware(app, minimum_size=minimum_size, skip_paths=re.compile(r"^/download$"))


async def _gzip_get(app: Any, path: str = "/x", accept: bytes = b"gzip") -> tuple[dict[bytes, bytes], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "headers": [(b"accept-encoding", accept)]}, receive, send)
    assert next(m["type"] for m in sent) == "http.response.start"
    return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


async def test_gzip_small_complete_body_goes_out_untouched() -> None:
    headers, body = await _gzip_get(await _gzip_app([b"tiny"]))
    assert body == b"tiny"
    assert b"content-encoding" not in headers
    assert b"vary" not in headers


async def test_gzip_large_and_streamed_bodies_go_through_starlettes_responder() -> None:
    import gzip

    for chunks in ([b"a" * 500], [b"tiny", b"b" * 500], [b"x", b"y"]):  # a small stream is compressed too
        headers, body = await _gzip_get(await _gzip_app(chunks))
        assert headers[b"content-encoding"] == b"gzip"
        assert headers[b"vary"] == b"Accept-Encoding"
        assert gzip.decompress(body) == b"".join(chunks)
    headers, body = await _gzip_get(await _gzip_app([b"a" * 500]), accept=b"identity")
    assert body == b"a" * 500
    assert b"content-encoding" not in headers
    headers, body = await _gzip_get(await _gzip_app([b"a" * 500]), path="/download")
    assert body == b"a" * 500
    assert b"content-encoding" not in headers
    headers, body = await _gzip_get(await _gzip_app([b"a" * 500], content_type=b"image/png"))
    assert body == b"a" * 500
    assert b"content-encoding" not in headers


async def test_no_gzip_without_accept_encoding(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert len(r.content) > 1024


# ---- bare mode ---------------------------------------------------------------------------------------


async def test_bare_mode_has_no_observability_middleware(
    make_settings: Settings, client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(middleware="bare"))
    async with client_for(app) as c:
        r = await c.get("/openapi.json", headers={"X-Request-ID": "bare-mode-0001", "Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert not {"x-request-id", "server-timing", "content-encoding"} & set(r.headers)
        too_big = await c.post("/api/v1/users", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
        assert too_big.status_code == 413  # the size cap is not optional


# ---- one layer at a time (the middleware_layers experiment's arms) ---------------------------------


def _layer_stack(app: Any) -> list[str]:
    return [m.cls.__name__ for m in app.user_middleware]


@pytest.mark.parametrize(("layer", "header", "stack"), [
    ("correlation", "x-request-id", ["RequestTelemetryMiddleware"]),
    ("timing", "server-timing", ["RequestTelemetryMiddleware"]),
    ("gzip", "content-encoding", ["SelectiveGZipMiddleware"]),
    ("access_log", None, ["RequestTelemetryMiddleware"]),
    ("metrics", None, ["RequestTelemetryMiddleware"]),
])
async def test_each_layer_alone(
    make_settings: Settings, client_for: Callable[..., Any], layer: str, header: str | None, stack: list[str]
) -> None:
    app = create_app(make_settings(middleware=layer, access_log=True))
    assert _layer_stack(app) == [*stack, "BodySizeLimitMiddleware"]
    async with client_for(app) as c:
        r = await c.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        present = {"x-request-id", "server-timing", "content-encoding"} & set(r.headers)
        assert present == ({header} if header else set())
        observed = sum(sample.value for metric in app.state.metrics.registry.collect()
                       for sample in metric.samples if sample.name == "http_requests_total")
        assert observed == (1 if layer == "metrics" else 0)


def test_full_is_every_layer_and_names_are_checked(make_settings: Settings) -> None:
    from reference_app.core.config import MIDDLEWARE_LAYERS

    assert make_settings(middleware="full").middleware_layers == frozenset(MIDDLEWARE_LAYERS)
    assert make_settings(middleware=" Timing, correlation ").middleware == "correlation,timing"
    for bad in ("timing,cors", "", ","):
        with pytest.raises(ValueError, match="middleware"):
            make_settings(middleware=bad)


async def test_tracing_traces_requests(make_settings: Settings, client_for: Callable[..., Any]) -> None:
    """Instrumented in create_app: in the lifespan the middleware stack was already built, and no
    request was ever traced (the spans below were missing). Spans are named by route template."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app = create_app(make_settings(middleware="tracing", otel_exporter="discard", otel_sample_ratio=1.0))
    spans = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        async with client_for(app) as c:
            assert (await c.get("/api/v1/items/7", headers={"Authorization": "Bearer x"})).status_code == 401
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()
    (span,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert span.name == "GET /api/v1/items/{item_id}"  # the template, not the path: bounded names
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/items/{item_id}"


async def test_full_stack_is_two_layers_and_traces_with_the_request_id(
    make_settings: Settings, client_for: Callable[..., Any]
) -> None:
    """The tracing decision lives in the request-telemetry layer: one layer records, one compresses."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app = create_app(make_settings(middleware="full", otel_exporter="discard", otel_sample_ratio=1.0))
    assert _layer_stack(app) == ["RequestTelemetryMiddleware", "SelectiveGZipMiddleware", "BodySizeLimitMiddleware"]
    spans = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        async with client_for(app) as c:
            r = await c.get("/api/v1/lab/hello", headers={"X-Request-ID": "traced-full-0001"})
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "traced-full-0001"
    assert "server-timing" in r.headers
    (span,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert span.name == "GET /api/v1/lab/hello"


@pytest.mark.parametrize(("ratio", "traceparent", "traced"), [
    (0.0, None, False),  # not picked: no span at all, not even an unsampled one
    (1.0, None, True),
    (0.0, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", True),  # a sampled parent decides
    (1.0, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", False),  # so does an unsampled one
])
async def test_edge_sampling(
    make_settings: Settings, client_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
    ratio: float, traceparent: str | None, traced: bool,
) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app = create_app(make_settings(middleware="tracing", otel_exporter="discard", otel_sample_ratio=ratio))
    spans = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        async with client_for(app) as c:
            headers = {"traceparent": traceparent} if traceparent else {}
            assert (await c.get("/api/v1/lab/hello", headers=headers)).status_code == 200
            user = await c.post("/api/v1/users", json={"email": "edge@example.com", "password": "password-123456"})
            assert user.status_code == 201
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        app.state.tracer_provider.shutdown()
    names = [span.name for span in spans.get_finished_spans()]
    assert ("GET /api/v1/lab/hello" in names) is traced
    if ratio == 0.0 and not traceparent:
        assert names == []  # the registration's database statements were not traced either


# ---- CORS --------------------------------------------------------------------------------------------


async def test_cors_preflight_for_configured_origin(make_settings: Settings, client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(cors_origins="https://app.example,https://admin.example"))
    async with client_for(app) as c:
        r = await c.options("/api/v1/items", headers={"Origin": "https://app.example",
                                                       "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "Authorization, If-Match"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in r.headers
        simple = await c.get("/api/v1/lab/hello", headers={"Origin": "https://admin.example"})
        assert simple.headers["access-control-allow-origin"] == "https://admin.example"
        assert "X-Request-ID" in simple.headers["access-control-expose-headers"]


async def test_cors_refuses_other_origins(make_settings: Settings, client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(cors_origins="https://app.example"))
    async with client_for(app) as c:
        r = await c.options("/api/v1/items", headers={"Origin": "https://evil.example",
                                                       "Access-Control-Request-Method": "GET"})
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        simple = await c.get("/api/v1/lab/hello", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_cors_with_credentials_echoes_origin(make_settings: Settings, client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(cors_origins="https://app.example", cors_allow_credentials=True))
    async with client_for(app) as c:
        r = await c.get("/api/v1/lab/hello", headers={"Origin": "https://app.example"})
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert r.headers["access-control-allow-credentials"] == "true"


async def test_no_cors_headers_without_configured_origins(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/lab/hello", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers


# ---- body size cap (413) ---------------------------------------------------------------------------------


@pytest.fixture
async def small_cap(make_settings: Settings, client_for: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(max_json_bytes=1024))
    async with client_for(app) as c:
        yield c


async def test_oversized_body_with_content_length_is_413(small_cap: httpx.AsyncClient) -> None:
    body = json.dumps({"email": "a@example.com", "password": "x" * 2000}).encode()
    r = await small_cap.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://refapp.example/problems/payload-too-large"
    assert r.json()["detail"] == "The request body exceeds 1024 bytes."


async def test_oversized_body_without_content_length_is_413(small_cap: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    r = await small_cap.post("/api/v1/users", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["type"] == "https://refapp.example/problems/payload-too-large"


async def test_lying_content_length_is_still_capped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = iter([{"type": "http.request", "body": b"x" * 600, "more_body": True},
                     {"type": "http.request", "body": b"x" * 600, "more_body": False}])

    async def receive() -> Message:
        return next(messages)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"10"),
                                                            (b"content-type", b"application/json")]}
    from starlette.exceptions import HTTPException

    with pytest.raises(HTTPException) as excinfo:
        await BodySizeLimitMiddleware(app, json_limit=1024, upload_limit=10_000)(scope, receive, _no_send)
    assert excinfo.value.status_code == 413


async def test_body_under_the_cap_passes(small_cap: httpx.AsyncClient) -> None:
    r = await small_cap.post("/api/v1/users", json={"email": "fits@example.com", "password": "long enough"})
    assert r.status_code == 201


async def test_multipart_gets_the_upload_cap_not_the_json_cap() -> None:
    statuses: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        statuses.append(200)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" * 5000, "more_body": False}

    scope = {"type": "http", "method": "POST",
             "headers": [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"5000")]}
    await BodySizeLimitMiddleware(app, json_limit=1024, upload_limit=10_000)(scope, receive, _no_send)
    assert statuses == [200]


async def test_get_requests_are_not_inspected() -> None:
    calls: list[Receive] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(receive)

    await BodySizeLimitMiddleware(app, json_limit=1024, upload_limit=1024)(
        {"type": "http", "method": "GET", "headers": [(b"content-length", b"999999")]}, _no_receive, _no_send
    )
    assert calls == [_no_receive]


async def _no_receive() -> Message:  # pragma: no cover - never awaited
    raise AssertionError("receive should not be called")


async def _no_send(message: Message) -> None:
    pass
