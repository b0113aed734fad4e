"""Shared fixtures for the contract-verifier tests (``tests/contracts``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

import harness.cli
from contracts import live


@pytest.fixture
def harness_main(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    """``harness.cli.main`` with only the contract part registered.

    The real dispatcher, argument parsing and HarnessError-to-exit-code mapping are exercised; the
    other parts are left out so that these tests judge this part alone.
    """
    monkeypatch.setattr(harness.cli, "_PARTS", ("contracts.cli",))
    return harness.cli.main


@pytest.fixture
def live_schema(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand in for the reference app: ``harness contract export|check`` read this document.

    Mutate the returned dict to simulate a change in the app.
    """
    schema: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "reference app", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "operationId": "items_list",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id", "name"],
                }
            }
        },
    }
    monkeypatch.setattr(live, "live_schema", lambda target: schema)
    return schema


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, str]], str]]:
    """Start real HTTP servers on 127.0.0.1 (port chosen by the OS) serving ``{path: body}``.

    Returns the base URL; anything not in the mapping is a 404. Servers stop after the test.
    """
    servers: list[tuple[ThreadingHTTPServer, Thread]] = []

    def start(routes: dict[str, str]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = routes.get(self.path)
                payload = (body or "").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
