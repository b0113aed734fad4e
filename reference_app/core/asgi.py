"""Reading an ASGI scope: one request header, and the matched route's template.

Shared by the request-telemetry layer and the tracing that names its spans from the template.
"""

from __future__ import annotations

import re

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> bytes | None:
    """The raw value of the request's first ``name`` header (lower-case, as ASGI gives names)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value
    return None


def route_template(scope: Scope) -> str:
    """The matched route's template including its include prefix, e.g. ``/api/v1/items/{item_id}``.

    FastAPI (0.16x) keeps the route it selected, with the template under its full prefix, in its
    own part of the scope (``scope["fastapi"]["effective_route_context"].path``): one lookup, where
    the fallback below costs two regex matches (~0.5 us of the ~10 us the request-telemetry layer
    adds). That key is FastAPI's internal, so a FastAPI without it, or a route it did not select,
    takes the fallback; a test checks both agree on every route of the reference app.

    The fallback: FastAPI matches included routers lazily, so ``scope["route"]`` is the router's
    own route, whose ``path`` lacks the ``include_router`` prefix. The prefix is the part of the
    request path in front of the suffix that the route's own pattern matches. Labels stay bounded
    either way.
    """
    fastapi_scope = scope.get("fastapi")
    if type(fastapi_scope) is dict:
        selected = getattr(fastapi_scope.get("effective_route_context"), "path", None)
        if type(selected) is str and selected:
            return selected
    return _template_from_route(scope)


def _template_from_route(scope: Scope) -> str:
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
