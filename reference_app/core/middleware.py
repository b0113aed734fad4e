"""Pure ASGI middleware. ``BaseHTTPMiddleware`` costs ~8x throughput here (NOTES-performance.md),
so every layer is a plain ASGI callable that wraps ``send``/``receive`` and nothing more.
"""

from __future__ import annotations

import logging
import re
from contextvars import Token
from random import getrandbits, random
from time import perf_counter
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.core.asgi import header, route_template
from reference_app.core.context import request_id_var
from reference_app.core.errors import problem_response
from reference_app.core.request_metrics import RequestMetrics
from reference_app.core.telemetry import EdgeTracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,128}\Z")
access_log = logging.getLogger("refapp.access")


class RequestTelemetryMiddleware:
    """What the service records about each request, in one layer: the correlation id, the
    ``Server-Timing`` header, the Prometheus observation, the access line and the edge tracing
    decision (``telemetry.EdgeTracer``), each on its own switch (REFAPP_MIDDLEWARE, one A/B arm per
    layer).

    One layer rather than four because each pure-ASGI layer costs something of a ~75 us
    ``/lab/hello`` request in its call, its closure and its ``send`` wrapper alone (~0.4-0.7 us
    measured in process, docs/load.md), and these wrap the same two messages. A traced request's
    span covers the app and the layers inside this one, not this layer's own bookkeeping.

    - Correlation: a well-formed ``X-Request-ID`` is kept, anything else replaced by 32 random hex
      digits; echoed on the response and in every log line of the request (``request_id_var``).
    - Timing: ``Server-Timing: app;dur=...`` measured up to the response start (the app's own cost).
    - Access line: every error response (status >= 400) and every request slower than ``slow_s``;
      of the rest, a random ``sample_ratio``, each line saying in ``sample_rate`` how many requests
      it stands for (1, or 1/ratio), so counts summed from the log stay unbiased. A line through
      ``logging`` costs about a fifth of a ``/lab/hello`` request; the Prometheus counters, not
      the log, are the exact record of traffic.
    """

    def __init__(self, app: ASGIApp, *, correlation: bool = False, timing: bool = False,
                 log_enabled: bool = False, metrics: RequestMetrics | None = None,
                 sample_ratio: float = 1.0, slow_s: float = 0.0, tracer_provider: TracerProvider | None = None,
                 trace_ratio: float = 0.0, trace_excluded_urls: str = "") -> None:
        self.app = app
        self.correlation = correlation
        self.timing = timing
        self.log_enabled = log_enabled
        self.metrics = metrics
        self.sample_ratio = sample_ratio
        # 1/ratio exactly (100.0 at 0.01, 3.33... at 0.3): a rounded rate would bias summed counts.
        self.sample_rate = 1 / sample_ratio if sample_ratio > 0 else 0.0
        self.slow_s = slow_s
        self.tracer = None if tracer_provider is None else EdgeTracer(
            app, provider=tracer_provider, ratio=trace_ratio, excluded_urls=trace_excluded_urls)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Mostly written out in this one function, on purpose: it runs on every request, between the
        # server's code and the app's, where the same code measured ~2.5x its cost in a tight loop
        # (cold caches; docs/load.md), so each step saved, a helper call included, counts.
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        start = perf_counter()
        incoming_id: bytes | None = None
        has_parent = False
        for name, value in scope["headers"]:  # the two request headers this layer reads, in one pass
            if name == b"x-request-id":
                if incoming_id is None:  # the first, as ``header()`` reads it for a websocket
                    incoming_id = value
            elif name == b"traceparent":
                has_parent = True
        app = self.app if self.tracer is None else self.tracer.app_for(has_parent, self.app)
        id_header: bytes | None = None
        id_token: Token[str | None] | None = None
        if self.correlation:
            request_id, id_header = _request_id(scope, incoming_id)
            id_token = request_id_var.set(request_id)
        timing = self.timing
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if id_header is not None or timing:
                    # A copy: the response object may still own its header list. ASGI header names
                    # are lower-case; a request id the app set is replaced.
                    headers = []
                    for item in message.get("headers", ()):
                        if item[0] != b"x-request-id" or id_header is None:
                            headers.append(item)
                    if id_header is not None:
                        headers.append((b"x-request-id", id_header))
                    if timing:
                        headers.append((b"server-timing", b"app;dur=%.2f" % ((perf_counter() - start) * 1000)))
                    message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_recording)
        finally:
            metrics = self.metrics
            if metrics is not None or self.log_enabled:
                elapsed = perf_counter() - start
                rate = 0.0  # how many requests this one's access line stands for; 0: it gets none
                if self.log_enabled:
                    if status >= 400 or elapsed >= self.slow_s:
                        rate = 1.0
                    elif self.sample_ratio >= 1 or random() < self.sample_ratio:  # noqa: S311 - sampling, not security
                        rate = self.sample_rate
                if metrics is not None or rate:  # else the route template is not worth looking up
                    template = route_template(scope)
                    if metrics is not None:
                        metrics.observe(scope["method"], template, status, elapsed)
                    if rate and access_log.isEnabledFor(logging.INFO):
                        _log_request(scope, template, status, elapsed, rate)
            if id_token is not None:  # after the access line, which carries the id
                request_id_var.reset(id_token)

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan passes through. A websocket gets the request id (its log lines carry it) and may
        be traced; no header, metric or access line."""
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        app = (self.app if self.tracer is None
               else self.tracer.app_for(header(scope, b"traceparent") is not None, self.app))
        token = request_id_var.set(_request_id(scope, header(scope, b"x-request-id"))[0]) if self.correlation else None
        try:
            await app(scope, receive, send)
        finally:
            if token is not None:
                request_id_var.reset(token)


def _request_id(scope: Scope, incoming: bytes | None) -> tuple[str, bytes]:
    """The request's id, as text and as a header value: ``incoming`` (the request's
    ``X-Request-ID``) when well-formed, else a new one. Kept in the scope for the 500 handler, which
    runs in Starlette's ServerErrorMiddleware, outside this layer (and so after the contextvar is reset)."""
    if incoming is not None and _VALID_REQUEST_ID.match(incoming):
        request_id = incoming.decode("latin-1")
    else:
        # 32 random hex digits, as uuid4().hex gave. An id needs to be unique, not unguessable: the
        # Mersenne Twister (reseeded in every forked worker), 85 ns against 250 ns for
        # ``f"{n:032x}"`` and more for ``secrets``.
        request_id = getrandbits(128).to_bytes(16, "big").hex()
        incoming = request_id.encode("latin-1")
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id, incoming


def _log_request(scope: Scope, template: str, status: int, elapsed: float, rate: float) -> None:
    client = scope.get("client")
    # makeRecord + handle is what Logger.info does (the logger's filters and handlers all apply),
    # minus the stack walk that finds the caller's file and line: a call site that is always this one.
    access_log.handle(access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, "request", (), None,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "route": template,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "client": client[0] if client else None,
            "sample_rate": rate,
        },
    ))


class BodySizeLimitMiddleware:
    """Cap request bodies while they stream, so a missing or lying Content-Length can't bypass it.

    Multipart bodies get the upload cap, everything else the JSON cap. Raising an HTTPException
    from ``receive`` makes FastAPI and Starlette's form parser abort (closing spooled files).
    """

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        content_type = header(scope, b"content-type") or b""
        limit = self.upload_limit if content_type.startswith(b"multipart/") else self.json_limit
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"The request body exceeds {limit} bytes.")
            return message

        await self.app(scope, limited_receive, send)


async def _send_413(send: Send, limit: int) -> None:
    response = problem_response(413, detail=f"The request body exceeds {limit} bytes.", slug="payload-too-large")
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class SelectiveGZipMiddleware(GZipMiddleware):
    """Starlette's GZip, except for file downloads, and with small responses passed by untouched.

    Downloads keep their bytes: the offsets that Range requests and resumed downloads count in, and
    the Content-Length that progress bars read. A complete body under ``minimum_size`` goes out as
    it is, which is what Starlette's responders do with it too; deciding that here, before one is
    built, spares the common small JSON response the responder and its header parsing. Anything else
    is handed, start message first, to Starlette's own responder.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int, skip_paths: re.Pattern[str]) -> None:
        super().__init__(app, minimum_size=minimum_size)
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.skip_paths.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        responder: IdentityResponder | None = None
        passed = False

        async def send_small_untouched(message: Message) -> None:
            nonlocal start, responder, passed
            if passed:
                await send(message)
                return
            if responder is not None:
                await responder.send_with_compression(message)
                return
            kind = message["type"]
            if kind == "http.response.start":
                start = message
                return
            if (kind == "http.response.body" and start is not None and not message.get("more_body", False)
                    and len(message.get("body", b"")) < self.minimum_size):
                passed = True
                await send(start)
                await send(message)
                return
            responder = self._responder(scope, send)
            if start is not None:
                await responder.send_with_compression(start)
            await responder.send_with_compression(message)

        await self.app(scope, receive, send_small_untouched)

    def _responder(self, scope: Scope, send: Send) -> IdentityResponder:
        """The responder Starlette's GZipMiddleware would have used, attached to ``send``."""
        responder: IdentityResponder
        if "gzip" in Headers(scope=scope).get("Accept-Encoding", ""):
            responder = GZipResponder(self.app, self.minimum_size, compresslevel=self.compresslevel,
                                      thread_minimum_size=self.thread_minimum_size,
                                      exclude_content_types=self.exclude_content_types)
        else:
            responder = IdentityResponder(self.app, self.minimum_size,
                                          exclude_content_types=self.exclude_content_types)
        responder.send = send
        return responder
