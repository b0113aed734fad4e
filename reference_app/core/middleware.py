"""Pure ASGI middleware. ``BaseHTTPMiddleware`` costs ~8x throughput here (NOTES-performance.md),
so every layer is a plain ASGI callable that wraps ``send``/``receive`` and nothing more.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.core.context import request_id_var
from reference_app.core.errors import problem_response
from reference_app.core.telemetry import Metrics

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
access_log = logging.getLogger("refapp.access")


class CorrelationIdMiddleware:
    """Accept a well-formed ``X-Request-ID`` or mint one; echo it and expose it to every log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        # 32 random hex digits, as uuid4().hex gave, without building a UUID object per request.
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else secrets.token_hex(16)
        value = request_id.encode("latin-1")  # the pattern admits ASCII only
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                _set_header(message, b"x-request-id", value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class ServerTimingMiddleware:
    """``Server-Timing: app;dur=…`` measured up to the response start (what the app itself cost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - start) * 1000
                message["headers"] = [*message.get("headers", ()), (b"server-timing", b"app;dur=%.2f" % elapsed_ms)]
            await send(message)

        await self.app(scope, receive, send_with_timing)


class AccessLogMiddleware:
    """One JSON access line and one metrics observation per request, labelled by route template."""

    def __init__(self, app: ASGIApp, *, log_enabled: bool, metrics: Metrics | None) -> None:
        self.app = app
        self.log_enabled = log_enabled
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        finally:
            elapsed = time.perf_counter() - start
            template = route_template(scope)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], template, status, elapsed)
            if self.log_enabled and access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                # makeRecord + handle is what Logger.info does (the logger's filters and handlers
                # all apply), minus the stack walk that finds the caller's file and line: one per
                # request, for a call site that is always this one.
                access_log.handle(access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0, "request", (), None,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": client[0] if client else None,
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
        content_type = _header(scope, b"content-type") or ""
        limit = self.upload_limit if content_type.startswith("multipart/") else self.json_limit
        declared = _header(scope, b"content-length")
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


def route_template(scope: Scope) -> str:
    """The matched route's template including its include prefix, e.g. ``/api/v1/items/{item_id}``.

    FastAPI matches included routers lazily: ``scope["route"]`` is the router's own route, whose
    ``path`` lacks the ``include_router`` prefix. The prefix is the part of the request path in
    front of the suffix that the route's own pattern matches. Labels stay bounded either way.
    """
    route = scope.get("route")
    template: str | None = getattr(route, "path", None)
    if not template:
        return "<unmatched>"
    regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
    path: str = scope.get("path", "")
    if regex is None or regex.match(path):
        return template
    # The prefix this route was last found under, tried first: one regex match per request instead
    # of one per "/" of the path. Keyed by id (routes are unhashable) and checked before use, so a
    # reused id costs one failed match; bounded by the routes of the apps alive in the process.
    key = id(route)
    prefix = _PREFIXES.get(key)
    if prefix is not None and path.startswith(prefix) and regex.match(path[len(prefix):]):
        return prefix + template
    for i, char in enumerate(path):
        if char == "/" and i and regex.match(path[i:]):
            if len(_PREFIXES) >= _MAX_PREFIXES:
                _PREFIXES.clear()
            _PREFIXES[key] = path[:i]
            return path[:i] + template
    return template


_PREFIXES: dict[int, str] = {}
_MAX_PREFIXES = 4096


def _set_header(message: Message, name: bytes, value: bytes) -> None:
    """Set one response header on an ``http.response.start`` message (``name`` lower-case), replacing
    any earlier value: what ``MutableHeaders(scope=message)[name] = value`` does, minus its wrapper."""
    headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != name]
    headers.append((name, value))
    message["headers"] = headers


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None



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
