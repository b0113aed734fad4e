"""One HTTP request as a raw ASGI call, for the benchmarks that drive the app without a server.

Shared by the pytest benchmarks (through conftest.py) and ``python -m tests.bench.cpu_cost``, which
runs outside pytest and so can't take it from a conftest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


class AsgiResponse:
    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""


DEFAULT_HEADERS = ((b"host", b"bench"), (b"accept", b"application/json"))


async def asgi_get(app: Any, path: str, query: bytes = b"", *,
                   headers: Sequence[tuple[bytes, bytes]] = DEFAULT_HEADERS,
                   client: tuple[str, int] = ("203.0.113.7", 4711), method: str = "GET") -> AsgiResponse:
    """One HTTP request (a GET unless ``method`` says otherwise, with an empty body) as a raw ASGI
    call: no HTTP client, no sockets, just the app and its middleware."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query, "headers": list(headers), "client": client, "server": ("bench", 80), "state": {},
    }
    response = AsgiResponse()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # pragma: no cover - the app never waits for a disconnect here
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            response.body += message.get("body", b"")

    await app(scope, receive, send)
    return response
