"""The API's own documentation: OAuth2 flows in the OpenAPI document, Swagger UI and ReDoc offline.

Swagger UI and ReDoc normally load their JavaScript and CSS from a CDN; an air-gapped deployment
(docs/air-gapped.md) then shows blank pages. The assets come from ``fastapi-offline``'s bundled
copies instead, served by the app under ``/docs-static``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

DOCS_STATIC_URL = "/docs-static"
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a URL, not a password
CLIENT_TOKEN_URL = "/api/v1/auth/client-token"  # noqa: S105 - a URL, not a password
#: The same bearer token, obtained two ways. Declared next to BearerAuth so that Swagger UI's
#: Authorize dialog can log in with a username and password or a client id and secret.
OAUTH2_SCHEMES: dict[str, dict[str, Any]] = {
    "OAuth2Password": {
        "type": "oauth2",
        "description": "Password grant (RFC 6749 §4.3): the account's email address and password.",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    },
    "OAuth2ClientCredentials": {
        "type": "oauth2",
        "description": "Client-credentials grant (RFC 6749 §4.4) for service clients (REFAPP_SERVICE_CLIENTS); "
                       "the client authenticates with HTTP Basic or form fields.",
        "flows": {"clientCredentials": {"tokenUrl": CLIENT_TOKEN_URL,
                                        "scopes": {"read": "Read operations.", "write": "Write operations."}}},
    },
}


def declare_oauth2_flows(app: FastAPI) -> None:
    """Every operation that accepts the bearer token also lists the two flows that issue it.

    Documentation only: at run time the token is still read by ``HTTPBearer`` (one dependency, not
    three, on every request); the alternatives are OR-ed as OpenAPI security requirements are.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.update(OAUTH2_SCHEMES)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                security = operation.get("security") if isinstance(operation, dict) else None
                if security and any("BearerAuth" in requirement for requirement in security):
                    security.extend({name: []} for name in OAUTH2_SCHEMES)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
