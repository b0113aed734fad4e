"""Reading an ASGI scope: a request header and the matched route's template."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from reference_app.core.asgi import header, route_template
from reference_app.main import create_app
from tests.bench.asgi import asgi_get


def test_header_is_the_first_of_its_name_raw() -> None:
    scope = {"headers": [(b"a", b"1"), (b"x-request-id", b"r\xe9q"), (b"x-request-id", b"second")]}
    assert header(scope, b"x-request-id") == b"r\xe9q"
    assert header(scope, b"missing") is None
    assert header({}, b"a") is None


def test_route_template_without_a_route_is_unmatched() -> None:
    assert route_template({"type": "http", "path": "/x"}) == "<unmatched>"


def test_route_template_prefix_is_found_for_every_path_and_prefix() -> None:
    """The prefix a route was last seen under is tried first; another id, or another prefix for
    the same route (a router included twice), must still give the right template."""

    async def endpoint(item_id: int) -> None: ...

    route = APIRoute("/items/{item_id}/cached", endpoint)
    for path, expected in [
        ("/api/v1/items/1/cached", "/api/v1/items/{item_id}/cached"),
        ("/api/v1/items/22/cached", "/api/v1/items/{item_id}/cached"),
        ("/api/v2/items/3/cached", "/api/v2/items/{item_id}/cached"),
        ("/items/4/cached", "/items/{item_id}/cached"),
        ("/api/v1/items/5/cached", "/api/v1/items/{item_id}/cached"),
    ]:
        assert route_template({"type": "http", "path": path, "route": route}) == expected


def test_route_template_ignores_a_selected_route_it_cannot_read() -> None:
    """FastAPI's part of the scope is its internal: anything but a context with a text ``path``
    falls back to the scope's route."""

    async def endpoint() -> None: ...

    route = APIRoute("/hello", endpoint)
    for fastapi_scope in ({}, {"effective_route_context": None}, {"effective_route_context": object()},
                          "not a dict"):
        scope = {"type": "http", "path": "/api/v1/hello", "route": route, "fastapi": fastapi_scope}
        assert route_template(scope) == "/api/v1/hello"


async def _routed_scope(app: Any, method: str, path: str) -> dict[str, Any]:
    """The scope as the app leaves it once it has routed and answered ``method path``."""
    seen: dict[str, Any] = {}

    async def keep_scope(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope=scope)
        # An endpoint that fails on an empty request has still been routed.
        with contextlib.suppress(Exception):
            await app(scope, receive, send)

    await asgi_get(keep_scope, path, method=method, headers=[(b"host", b"test")], client=("127.0.0.1", 1))
    return dict(seen["scope"])


@pytest.mark.parametrize("variant", ["selected", "fallback"])
async def test_route_template_is_the_documented_path_of_every_operation(
    make_settings: Callable[..., Any], variant: str
) -> None:
    """Both ways of reading the template, FastAPI's selected route and the scope's route with the
    prefix found from the path, give each operation's path as the OpenAPI document names it: the
    fast one reads a FastAPI internal, and this fails the day a FastAPI release changes it."""
    app = create_app(make_settings(middleware="bare"))
    operations = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item]
    assert len(operations) > 30
    checked = 0
    async with app.router.lifespan_context(app):
        for method, template in operations:
            scope = await _routed_scope(app, method, re.sub(r"\{[^}]+\}", "1", template))
            if variant == "fallback":
                scope.pop("fastapi", None)
            else:
                assert isinstance(scope.get("fastapi"), dict)
            assert route_template(scope) == template, (method, template)
            checked += 1
    assert checked == len(operations)
