"""The OpenAPI document: stable operation ids, declared security, every error documented as a Problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_app.main import create_app

PROBLEM_REF = "#/components/schemas/Problem"
# The documented surface (docs/api-surface.md). Ids are a contract: clients and load profiles use them.
DOCUMENTED_IDS = {
    "health_live", "health_ready",
    "auth_login", "auth_refresh", "auth_client_token", "auth_password_reset",
    "users_register", "users_read_me", "users_update_me", "users_list",
    "api_keys_create", "api_keys_list", "api_keys_revoke",
    "items_list", "items_create", "items_read", "items_read_cached", "items_replace", "items_delete",
    "items_read_v2",
    "files_upload", "files_upload_many", "files_import_csv", "files_read_meta", "files_download", "files_delete",
    "jobs_create", "jobs_read",
    "lab_hello", "lab_io_sync", "lab_io_async", "lab_cpu", "lab_limited", "lab_unlimited", "lab_config",
}
PUBLIC_IDS = {
    "health_live", "health_ready", "auth_login", "auth_refresh", "auth_client_token", "auth_password_reset",
    "users_register", "lab_hello", "lab_io_sync", "lab_io_async", "lab_cpu", "lab_limited", "lab_unlimited",
    "lab_config",
}
# Readiness answers 503 with its own body (which check failed), on purpose not a Problem.
NON_PROBLEM_ERRORS = {("health_ready", "503")}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.utils.app_fixtures import build_test_settings

    return create_app(build_test_settings(tmp_path_factory.mktemp("oas"))).openapi()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_every_operation_has_a_unique_operation_id(spec: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert None not in ids
    assert len(ids) == len(set(ids))


def test_documented_operation_ids_are_stable(spec: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in operations(spec)}
    assert ids >= DOCUMENTED_IDS, sorted(DOCUMENTED_IDS - ids)


def test_protected_operations_declare_security(spec: dict[str, Any]) -> None:
    schemes = set(spec["components"]["securitySchemes"])
    assert {"BearerAuth", "ApiKey"} <= schemes
    for path, method, op in operations(spec):
        declared = {name for requirement in op.get("security", []) for name in requirement}
        if op["operationId"] in PUBLIC_IDS:
            assert not declared, f"{method.upper()} {path} is public but declares {declared}"
        else:
            assert "BearerAuth" in declared, f"{method.upper()} {path} lacks security"
            assert declared <= schemes


def test_oauth2_flows_are_declared_for_swagger_authorize(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["OAuth2ClientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/auth/client-token"
    for path, method, op in operations(spec):
        declared = [name for requirement in op.get("security", []) for name in requirement]
        if "BearerAuth" in declared:  # every way to get the token is an alternative (OR-ed requirements)
            assert {"OAuth2Password", "OAuth2ClientCredentials"} <= set(declared), f"{method.upper()} {path}"


def test_protected_operations_document_401(spec: dict[str, Any]) -> None:
    missing = [op["operationId"] for _, _, op in operations(spec)
               if op.get("security") and "401" not in op["responses"]]
    assert missing == []


def test_every_error_response_is_a_problem(spec: dict[str, Any]) -> None:
    wrong = []
    for _, _, op in operations(spec):
        for status, response in op["responses"].items():
            if status[0] not in "45" or (op["operationId"], status) in NON_PROBLEM_ERRORS:
                continue
            schema = response.get("content", {}).get("application/problem+json", {}).get("schema", {})
            if schema.get("$ref") != PROBLEM_REF:
                wrong.append(f"{op['operationId']} {status}")
    assert wrong == []


def test_operations_with_input_document_422(spec: dict[str, Any]) -> None:
    missing = [op["operationId"] for _, _, op in operations(spec)
               if (op.get("parameters") or op.get("requestBody")) and "422" not in op["responses"]]
    assert missing == []


def test_rate_limited_operations_document_429(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(spec)}
    for op_id in ("auth_login", "auth_refresh", "auth_password_reset", "users_register", "lab_limited",
                  "items_list", "items_create", "items_read_cached"):
        assert "429" in by_id[op_id]["responses"], op_id


def test_problem_schema_shape(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status"}
    assert {"type", "title", "status", "detail", "instance", "request_id", "errors"} <= set(problem["properties"])


def test_create_documents_location_and_etag(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/api/v1/items"]["post"]["responses"]["201"]
    assert {"Location", "ETag"} <= set(created["headers"])


def test_metrics_and_websocket_are_not_operations(spec: dict[str, Any]) -> None:
    assert "/metrics" not in spec["paths"]
    assert not any("/ws/" in p for p in spec["paths"])


async def test_docs_and_redoc_render(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        r = await client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "fastapi-harness reference app"


async def test_docs_can_be_disabled(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    app: FastAPI = create_app(make_settings(docs_enabled=False))
    async with client_for(app) as c:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await c.get(path)).status_code == 404
