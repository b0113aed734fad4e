"""Pure ASGI middleware. ``BaseHTTPMiddleware`` costs ~8x throughput here (NOTES-performance.md),
so every layer is a plain ASGI callable that wraps ``send``/``receive`` and nothing more.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
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
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
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
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={elapsed_ms:.2f}")
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
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": client[0] if client else None,
                    },
                )


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
    for i, char in enumerate(path):
        if char == "/" and i and regex.match(path[i:]):
            return path[:i] + template
    return template


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None



class SelectiveGZipMiddleware(GZipMiddleware):
    """GZip, except for file downloads: their bytes must keep the offsets that Range requests
    and resumed downloads count in, and their Content-Length must survive for progress bars."""

    def __init__(self, app: ASGIApp, *, minimum_size: int, skip_paths: re.Pattern[str]) -> None:
        super().__init__(app, minimum_size=minimum_size)
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.skip_paths.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
