"""RFC 9457 problem details: every error the API returns has one shape and one media type.

Exceptions carry the HTTP meaning; handlers render them. A 500 is rendered from a fixed text so
that nothing from the exception (traceback, SQL, paths) reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_app.core.context import request_id_var

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("refapp.errors")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = Field(default="about:blank", examples=["https://refapp.example/problems/not-found"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(AppError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(AppError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(AppError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class RangeNotSatisfiable(AppError):
    status, title, slug = 416, "Range Not Satisfiable", "range-not-satisfiable"


class Unprocessable(AppError):
    status, title, slug = 422, "Unprocessable Content", "validation"


class PreconditionRequired(AppError):
    status, title, slug = 428, "Precondition Required", "precondition-required"


class TooManyRequests(AppError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


class BadGateway(AppError):
    status, title, slug = 502, "Bad Gateway", "bad-gateway"


class ServiceUnavailable(AppError):
    status, title, slug = 503, "Service Unavailable", "unavailable"


_SLUGS = {cls.status: cls.slug for cls in AppError.__subclasses__()}
_TITLES = {cls.status: cls.title for cls in AppError.__subclasses__()} | {
    405: "Method Not Allowed",
    406: "Not Acceptable",
    500: "Internal Server Error",
}


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    slug: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://refapp.example/problems/{slug}" if slug else "about:blank",
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id or request_id_var.get(),
        errors=[FieldError.model_validate(e) for e in errors] if errors else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status, title=exc.title, detail=exc.detail, slug=exc.slug,
        instance=request.url.path, headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the methods of the one route it tried; RFC 9110 wants all of the resource's.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    # The same ``type`` as the AppError of that status: a 413 raised mid-stream by BodySizeLimitMiddleware
    # must read like the one it sends up front, and a routing 404 like a handler's 404.
    return problem_response(
        exc.status_code, detail=detail, slug=_SLUGS.get(exc.status_code), instance=request.url.path,
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the resource the path resolves to: the first matching route template, as the
    router would pick it (``/files/batch`` is the batch resource, not a file called "batch")."""
    path = request.url.path
    routes = list(iter_route_contexts(request.app.routes))
    template = next(
        (r.path_format for r in routes if getattr(r, "path_regex", None) is not None and r.path_regex.match(path)),
        None,
    )
    methods: set[str] = set()
    for route in routes:
        if template is not None and route.path_format == template and route.methods:
            methods |= set(route.methods)
    return sorted(methods)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
         "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return problem_response(
        422, title="Unprocessable Content", slug="validation", detail="The request is not valid.",
        instance=request.url.path, errors=errors,
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Logged with the traceback for operators; the client gets a fixed text and the request id to quote.
    # This handler runs in Starlette's ServerErrorMiddleware, outside the correlation middleware, so
    # the request id comes from the scope, and the log line and X-Request-ID header get it from here.
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    token = request_id_var.set(request_id)
    try:
        log.exception("unhandled error", extra={"path": request.url.path})
    finally:
        request_id_var.reset(token)
    return problem_response(
        500, detail="An unexpected error occurred.", slug="internal", instance=request.url.path,
        request_id=request_id, headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)


def normalize_error_docs(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: every error is problem+json.

    FastAPI documents its own 422 as ``application/json`` with ``HTTPValidationError``, and knows
    nothing of the 400 that an unparseable body gets. Every operation that validates input gets
    both, in our format, so clients (and schemathesis) are never surprised.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                takes_input = "requestBody" in operation or bool(operation.get("parameters"))
                if takes_input:
                    responses["422"] = _problem_entry(422)
                if "requestBody" in operation:
                    responses.setdefault("400", _problem_entry(400))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


def _problem_entry(status: int) -> dict[str, Any]:
    return {
        "description": _TITLES.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries so every documented error names its body and media type."""
    return {status: _problem_entry(status) for status in statuses}
