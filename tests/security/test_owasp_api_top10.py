"""OWASP API Security Top 10 (2023) against the reference app, in process.

Each case names its OWASP item. BOLA cases check both the refusal (404, indistinguishable from
a missing object) and that the victim's row is unchanged, read back through the owner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import ValidationError

from reference_app.core.config import Settings
from reference_app.core.deps import get_admin_user
from reference_app.main import create_app
from tests.security.conftest import AppCache, assert_problem, expect
from tests.utils.app_fixtures import build_test_settings
from tests.utils.factories import UserHandle, create_api_key, create_item, item_payload

pytestmark = pytest.mark.security

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "contracts" / "openapi.json"
HASH_MARKERS = ("hashed_password", "$argon2")


async def upload(client: httpx.AsyncClient, user: UserHandle, content: bytes = b"secret bytes",
                 name: str = "doc.txt") -> dict[str, Any]:
    r = await client.post("/api/v1/files", files={"file": (name, content, "text/plain")}, headers=user.headers)
    expect(r, 201)
    body: dict[str, Any] = r.json()
    return body


# ---- API1:2023 Broken Object Level Authorization -------------------------------------------


async def _owner_view(client: httpx.AsyncClient, owner: UserHandle, item_id: int) -> dict[str, Any]:
    body: dict[str, Any] = expect(await client.get(f"/api/v1/items/{item_id}", headers=owner.headers), 200).json()
    return body


@pytest.mark.parametrize(
    ("method", "path_tpl"),
    [
        pytest.param("GET", "/api/v1/items/{id}", id="bola-item-read"),
        pytest.param("GET", "/api/v1/items/{id}/cached", id="bola-item-read-cached"),
        pytest.param("GET", "/api/v2/items/{id}", id="bola-item-read-v2"),
        pytest.param("GET", "/api/v1/items/{id}/quote", id="bola-item-quote"),
        pytest.param("PUT", "/api/v1/items/{id}", id="bola-item-update"),
        pytest.param("DELETE", "/api/v1/items/{id}", id="bola-item-delete"),
    ],
)
async def test_bola_items(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle,
                          method: str, path_tpl: str) -> None:
    """API1:2023 BOLA: another user's item is a 404 on read/update/delete, and the row is unchanged."""
    item = await create_item(client, user)
    before = await _owner_view(client, user, item["id"])
    # Prime the cache as the owner, so the cached twin is checked on a hit, not only on a miss.
    expect(await client.get(f"/api/v1/items/{item['id']}/cached", headers=user.headers), 200)
    etag = f'"{item["id"]}.{item["version"]}"'  # the attacker even knows the current ETag
    kwargs: dict[str, Any] = {"headers": {**other_user.headers, "If-Match": etag}}
    if method == "PUT":
        kwargs["json"] = item_payload(name="pwned", price=0)
    r = await client.request(method, path_tpl.format(id=item["id"]), **kwargs)
    body = assert_problem(r, 404)
    missing = await client.request(method, path_tpl.format(id=2_000_000_000), **kwargs)
    # Indistinguishable from a missing object: same status, title and detail.
    assert (missing.status_code, missing.json()["detail"]) == (404, body["detail"])
    assert await _owner_view(client, user, item["id"]) == before


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        pytest.param("GET", "", id="bola-file-meta"),
        pytest.param("GET", "/content", id="bola-file-download"),
        pytest.param("DELETE", "", id="bola-file-delete"),
    ],
)
async def test_bola_files(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle,
                          method: str, suffix: str) -> None:
    """API1:2023 BOLA: another user's file (metadata, content, delete) is a 404; the file survives."""
    meta = await upload(client, user)
    r = await client.request(method, f"/api/v1/files/{meta['id']}{suffix}", headers=other_user.headers)
    assert_problem(r, 404)
    assert b"secret bytes" not in r.content
    assert expect(await client.get(f"/api/v1/files/{meta['id']}", headers=user.headers), 200).json() == meta
    content = expect(await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers), 200)
    assert content.content == b"secret bytes"


async def test_bola_job_read(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    """API1:2023 BOLA: another user's background job (and its result) is a 404."""
    job = expect(await client.post("/api/v1/jobs", json={"kind": "item_report"}, headers=user.headers), 202).json()
    assert_problem(await client.get(f"/api/v1/jobs/{job['id']}", headers=other_user.headers), 404)
    expect(await client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers), 200)


async def test_bola_api_key_revoke(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    """API1:2023 BOLA: revoking another user's API key is a 404, and the key keeps working."""
    key = await create_api_key(client, user, ["read"])
    assert_problem(await client.delete(f"/api/v1/api-keys/{key['id']}", headers=other_user.headers), 404)
    expect(await client.get("/api/v1/items", headers={"X-API-Key": key["key"]}), 200)


OWNED_PARAMS = {"item_id", "file_id", "job_id", "key_id"}


async def test_bola_sweep_every_owned_route(client: httpx.AsyncClient, app: FastAPI, user: UserHandle,
                                            other_user: UserHandle) -> None:
    """API1:2023 BOLA, from the route table: every route addressing an owned object by id
    (item_id/file_id/job_id/key_id) answers another user with 404, and the owner's objects are unchanged.
    A new owned route is covered without editing this case."""
    item = await create_item(client, user)
    file_meta = await upload(client, user)
    job = expect(await client.post("/api/v1/jobs", json={"kind": "item_report"}, headers=user.headers), 202).json()
    key = await create_api_key(client, user, ["read"])
    ids = {"item_id": item["id"], "file_id": file_meta["id"], "job_id": job["id"], "key_id": key["id"]}
    before = (await _owner_view(client, user, item["id"]),
              expect(await client.get(f"/api/v1/files/{file_meta['id']}", headers=user.headers), 200).json())
    swept = []
    for original, route in route_table(app):
        if not isinstance(original, APIRoute):
            continue
        params = set(re.findall(r"\{([^}]+)\}", route.path_format))
        if not params & OWNED_PARAMS:
            continue
        path = route.path_format.format(**{p: ids.get(p, 1) for p in params})
        for method in sorted(route.methods - {"HEAD"}):
            kwargs: dict[str, Any] = {"headers": {**other_user.headers, "If-Match": f'"{item["id"]}.1"'}}
            if method in ("PUT", "PATCH", "POST"):
                kwargs["json"] = item_payload(name="pwned")
            assert_problem(await client.request(method, path, **kwargs), 404)
            swept.append(f"{method} {route.path_format}")
    assert len(swept) >= 10, swept
    after = (await _owner_view(client, user, item["id"]),
             expect(await client.get(f"/api/v1/files/{file_meta['id']}", headers=user.headers), 200).json())
    assert after == before
    expect(await client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers), 200)
    expect(await client.get("/api/v1/items", headers={"X-API-Key": key["key"]}), 200)


# ---- API2:2023 Broken Authentication ---------------------------------------------------------


async def test_login_throttled_with_retry_after(cached_app: AppCache, client_for: Any) -> None:
    """API2:2023 Broken Authentication: repeated login failures are throttled (429 + Retry-After)."""
    async with client_for(cached_app(login_limit="3/minute")) as c:
        for _ in range(3):
            assert_problem(await c.post("/api/v1/auth/token",
                                        data={"username": "victim@example.com", "password": "guess"}), 401)
        r = await c.post("/api/v1/auth/token", data={"username": "victim@example.com", "password": "guess"})
        assert_problem(r, 429)
        assert int(r.headers["Retry-After"]) >= 1


async def test_login_unknown_user_and_wrong_password_identical(client: httpx.AsyncClient, user: UserHandle) -> None:
    """API2:2023 Broken Authentication (account enumeration): unknown user == wrong password."""
    wrong = await client.post("/api/v1/auth/token", data={"username": user.email, "password": "not-the-password"})
    unknown = await client.post("/api/v1/auth/token",
                                data={"username": "nobody-here@example.com", "password": "not-the-password"})
    assert_problem(wrong, 401)
    assert_problem(unknown, 401)
    strip = {"request_id"}
    assert {k: v for k, v in wrong.json().items() if k not in strip} == \
        {k: v for k, v in unknown.json().items() if k not in strip}
    assert set(wrong.headers.keys()) == set(unknown.headers.keys())
    varying = {"x-request-id", "server-timing", "x-ratelimit-remaining", "x-ratelimit-reset", "date"}
    assert {k: v for k, v in wrong.headers.items() if k not in varying} == \
        {k: v for k, v in unknown.headers.items() if k not in varying}


# ---- API3:2023 Broken Object Property Level Authorization ------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [pytest.param("role", "admin", id="mass-assign-role"),
     pytest.param("id", 1, id="mass-assign-id"),
     pytest.param("is_active", False, id="mass-assign-is_active")],
)
async def test_mass_assignment_user(client: httpx.AsyncClient, user: UserHandle, field: str, value: Any) -> None:
    """API3:2023 BOPLA (mass assignment): role/id/is_active on signup and profile update -> 422."""
    signup = await client.post("/api/v1/users", json={"email": "mass@example.com", "password": "long-enough-pw",
                                                      field: value})
    assert_problem(signup, 422)
    patch = await client.patch("/api/v1/users/me", json={"full_name": "x", field: value}, headers=user.headers)
    assert_problem(patch, 422)
    me = expect(await client.get("/api/v1/users/me", headers=user.headers), 200).json()
    assert (me["role"], me["id"], me["is_active"], me["full_name"]) == ("user", user.id, True, None)
    # Nothing was created by the refused signup either.
    assert_problem(await client.post("/api/v1/auth/token",
                                     data={"username": "mass@example.com", "password": "long-enough-pw"}), 401)


@pytest.mark.parametrize("field", ["id", "owner_id", "version"])
async def test_mass_assignment_item(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle,
                                    field: str) -> None:
    """API3:2023 BOPLA (mass assignment): server-owned item fields (id/owner_id/version) -> 422."""
    assert_problem(await client.post("/api/v1/items", json=item_payload(**{field: other_user.id}),
                                     headers=user.headers), 422)
    item = await create_item(client, user)
    r = await client.put(f"/api/v1/items/{item['id']}", json=item_payload(**{field: 999}),
                         headers={**user.headers, "If-Match": f'"{item["id"]}.{item["version"]}"'})
    assert_problem(r, 422)
    after = await _owner_view(client, user, item["id"])
    assert (after["owner_id"], after["version"]) == (item["owner_id"], item["version"])


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _extra_keys(value: Any, schema: dict[str, Any], doc: dict[str, Any], at: str = "$") -> list[str]:
    """Paths of keys present in ``value`` but not declared by ``schema`` (excess data exposure)."""
    schema = _resolve(schema, doc)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [_extra_keys(value, s, doc, at) for s in schema[combinator] if _fits(value, s, doc)]
            return min(options, key=len) if options else [f"{at}: no {combinator} branch fits"]
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        problems: list[str] = []
        for key, sub in value.items():
            if props is not None and key in props:
                problems += _extra_keys(sub, props[key], doc, f"{at}.{key}")
            elif isinstance(extra, dict):
                problems += _extra_keys(sub, extra, doc, f"{at}.{key}")
            elif extra is not True:
                problems.append(f"{at}.{key}")
        return problems
    if isinstance(value, list) and "items" in schema:
        return [p for i, v in enumerate(value) for p in _extra_keys(v, schema["items"], doc, f"{at}[{i}]")]
    return []


def _fits(value: Any, schema: dict[str, Any], doc: dict[str, Any]) -> bool:
    kind = _resolve(schema, doc).get("type")
    mapping: dict[str, type | tuple[type, ...]] = {
        "null": type(None), "object": dict, "array": list, "string": str, "boolean": bool,
        "integer": int, "number": (int, float),
    }
    return kind is None or isinstance(value, mapping.get(kind, object))


def _response_schema(doc: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    op = doc["paths"][path][method.lower()]
    schema: dict[str, Any] = op["responses"][str(status)]["content"]["application/json"]["schema"]
    return schema


EXPOSURE_CASES = [
    "users_register", "users_read_me", "users_update_me", "users_list", "auth_login", "api_keys_create",
    "api_keys_list", "items_create", "items_read", "items_list", "items_read_v2", "files_upload", "jobs_read",
]


@pytest.mark.parametrize("operation", EXPOSURE_CASES)
async def test_excess_data_exposure(client: httpx.AsyncClient, app: FastAPI, user: UserHandle, admin: UserHandle,
                                    operation: str) -> None:
    """API3:2023 BOPLA (excess data exposure): response keys are a subset of the documented model; no hash."""
    doc = app.openapi()
    item = await create_item(client, user)
    job = expect(await client.post("/api/v1/jobs", json={"kind": "item_report"}, headers=user.headers), 202).json()
    calls: dict[str, tuple[str, str, str, int, dict[str, Any]]] = {
        "users_register": ("POST", "/api/v1/users", "/api/v1/users", 201,
                           {"json": {"email": "exposed@example.com", "password": "long-enough-pw"}}),
        "users_read_me": ("GET", "/api/v1/users/me", "/api/v1/users/me", 200, {"headers": user.headers}),
        "users_update_me": ("PATCH", "/api/v1/users/me", "/api/v1/users/me", 200,
                            {"headers": user.headers, "json": {"password": "a-new-password-1"}}),
        "users_list": ("GET", "/api/v1/users", "/api/v1/users", 200, {"headers": admin.headers}),
        "auth_login": ("POST", "/api/v1/auth/token", "/api/v1/auth/token", 200,
                       {"data": {"username": user.email, "password": user.password}}),
        "api_keys_create": ("POST", "/api/v1/api-keys", "/api/v1/api-keys", 201,
                            {"headers": user.headers, "json": {"name": "k", "scopes": ["read"]}}),
        "api_keys_list": ("GET", "/api/v1/api-keys", "/api/v1/api-keys", 200, {"headers": user.headers}),
        "items_create": ("POST", "/api/v1/items", "/api/v1/items", 201,
                         {"headers": user.headers, "json": item_payload()}),
        "items_read": ("GET", f"/api/v1/items/{item['id']}", "/api/v1/items/{item_id}", 200,
                       {"headers": user.headers}),
        "items_list": ("GET", "/api/v1/items", "/api/v1/items", 200, {"headers": user.headers}),
        "items_read_v2": ("GET", f"/api/v2/items/{item['id']}", "/api/v2/items/{item_id}", 200,
                          {"headers": user.headers}),
        "files_upload": ("POST", "/api/v1/files", "/api/v1/files", 201,
                         {"headers": user.headers, "files": {"file": ("a.txt", b"abc", "text/plain")}}),
        "jobs_read": ("GET", f"/api/v1/jobs/{job['id']}", "/api/v1/jobs/{job_id}", 200, {"headers": user.headers}),
    }
    method, url, template, status, kwargs = calls[operation]
    r = expect(await client.request(method, url, **kwargs), status)
    assert _extra_keys(r.json(), _response_schema(doc, method, template, status), doc) == []
    for marker in HASH_MARKERS:
        assert marker not in r.text
        assert marker not in json.dumps(dict(r.headers))


# ---- API4:2023 Unrestricted Resource Consumption ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "who"),
    [pytest.param("/api/v1/items", {"limit": 10**6}, "user", id="items-limit-1e6"),
     pytest.param("/api/v1/items", {"offset": 10**12}, "user", id="items-offset-1e12"),
     pytest.param("/api/v1/items", {"limit": 0}, "user", id="items-limit-0"),
     pytest.param("/api/v1/users", {"limit": 10**6}, "admin", id="users-limit-1e6")],
)
async def test_unbounded_pagination(client: httpx.AsyncClient, user: UserHandle, admin: UserHandle,
                                    path: str, query: dict[str, int], who: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: page size/offset out of bounds -> 422, never a full scan."""
    headers = (user if who == "user" else admin).headers
    body = assert_problem(await client.get(path, params=query, headers=headers), 422)
    assert body["errors"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_oversized_json(client: httpx.AsyncClient, user: UserHandle, framing: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: a JSON body over max_json_bytes -> 413, declared or not."""
    payload = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'", "category": "tools", "price": 1}'
    headers = {**user.headers, "Content-Type": "application/json"}
    if framing == "chunked":
        async def chunks() -> Any:
            for i in range(0, len(payload), 65536):
                yield payload[i:i + 65536]
        r = await client.post("/api/v1/items", content=chunks(), headers=headers)
        assert r.request.headers.get("transfer-encoding") == "chunked"
    else:
        r = await client.post("/api/v1/items", content=payload, headers=headers)
    assert_problem(r, 413)
    assert expect(await client.get("/api/v1/items", headers=user.headers), 200).json()["total"] == 0


@pytest.mark.parametrize(
    ("setting", "path", "payload"),
    [pytest.param("signup_limit", "/api/v1/users", lambda n: {"email": f"s{n}@example.com",
                                                            "password": "long-enough-pw"}, id="signup"),
     pytest.param("reset_limit", "/api/v1/auth/password-reset", lambda n: {"email": f"r{n}@example.com"},
                  id="password-reset")],
)
async def test_signup_and_reset_throttled(cached_app: AppCache, client_for: Any, setting: str, path: str,
                                          payload: Callable[[int], dict[str, Any]]) -> None:
    """API4:2023 / API6:2023 (sensitive business flows): signup and password reset are throttled."""
    async with client_for(cached_app(**{setting: "2/minute"})) as c:
        ok = 201 if setting == "signup_limit" else 202
        for n in range(2):
            expect(await c.post(path, json=payload(n)), ok)
        r = await c.post(path, json=payload(99))
        assert_problem(r, 429)
        assert int(r.headers["Retry-After"]) >= 1


# ---- API5:2023 Broken Function Level Authorization -------------------------------------------


def _depends_on(dependant: Dependant, target: Callable[..., Any]) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def route_table(app: FastAPI) -> Iterator[tuple[Any, Any]]:
    """(original route, effective route) for every route, through included routers.

    FastAPI >= 0.16x keeps included routers as nodes of ``app.routes``; the effective route (with
    the include prefix and the router-level dependencies) comes from ``iter_route_contexts``.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        for route in app.routes:
            yield route, route
        return
    for context in iter_route_contexts(app.routes):
        yield context.original_route, context


def admin_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for original, route in route_table(app):
        if isinstance(original, APIRoute) and _depends_on(route.dependant, get_admin_user):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path_format


async def test_bfla_admin_routes_from_route_table(client: httpx.AsyncClient, app: FastAPI, user: UserHandle,
                                                  admin: UserHandle) -> None:
    """API5:2023 BFLA: every route depending on get_admin_user is 403 for a user, 401 anonymous.

    The routes come from ``app.routes`` (dependant tree), so a new admin route is covered without
    touching this test.
    """
    routes = list(admin_routes(app))
    assert routes, "no admin route found in the route table"
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", "1", template)
        assert_problem(await client.request(method, path, headers=user.headers), 403)
        assert_problem(await client.request(method, path), 401)
        assert expect(await client.request(method, path, headers=admin.headers),
                      200 if method == "GET" else 422).status_code < 500


# ---- API8:2023 Security Misconfiguration -------------------------------------------------------


def test_cors_wildcard_with_credentials_refused(make_settings: Callable[..., Settings]) -> None:
    """API8:2023 Security Misconfiguration: '*' CORS origin together with credentials is refused."""
    with pytest.raises(ValidationError, match="CORS"):
        make_settings(cors_origins=["*"], cors_allow_credentials=True)
    with pytest.raises(ValidationError, match="CORS"):
        make_settings(cors_origins="https://a.example, *", cors_allow_credentials=True)
    make_settings(cors_origins=["https://a.example"], cors_allow_credentials=True)  # the allowed shape


async def test_500_is_problem_json_without_traceback(make_settings: Callable[..., Settings]) -> None:
    """API8:2023 Security Misconfiguration: an unhandled error is a fixed problem+json 500, no traceback."""
    app = create_app(make_settings())
    secret_text = "psycopg.errors: SELECT hashed_password FROM users WHERE /srv/app/secret.py"

    async def boom() -> None:
        raise RuntimeError(secret_text)

    app.add_api_route("/__boom", boom, methods=["GET"])
    async with app.router.lifespan_context(app):
        # Its own client, deliberately outside the 5xx guard: this case provokes the 500.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/__boom")
            live = await c.get("/health/live")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 500
    assert body["detail"] == "An unexpected error occurred."
    for leak in ("Traceback", "RuntimeError", "secret.py", "hashed_password", 'File "'):
        assert leak not in r.text
    assert live.status_code == 200


@pytest.fixture(scope="module")
def docs_off_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(build_test_settings(tmp_path_factory.mktemp("docs-off"), docs_enabled=False))


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
async def test_docs_disabled_by_setting(docs_off_app: FastAPI, client: httpx.AsyncClient, client_for: Any,
                                        path: str) -> None:
    """API8:2023 Security Misconfiguration: docs_enabled=False removes /docs, /redoc and /openapi.json."""
    async with client_for(docs_off_app) as c:
        assert_problem(await c.get(path), 404)
        expect(await c.get("/health/live"), 200)
    expect(await client.get(path), 200)  # the default app (docs on) serves it: the setting is what differs


# ---- API9:2023 Improper Inventory Management -----------------------------------------------------

#: Routes deliberately outside the OpenAPI document. Anything else undocumented is a shadow API.
UNDOCUMENTED = {("GET", "/metrics"), ("WEBSOCKET", "/api/v1/ws/items/{item_id}"),
                # The API's own documentation pages (fastapi-offline registers them as API routes).
                ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def test_inventory_routes_equal_contract(app: FastAPI) -> None:
    """API9:2023 Improper Inventory Management: the route table equals the committed contract's operations.

    Compares against contracts/openapi.json when it is committed, else against app.openapi()
    (and says which), so a shadow or forgotten route fails either way.
    """
    if CONTRACT.is_file():
        doc = json.loads(CONTRACT.read_text())
        source = str(CONTRACT.relative_to(REPO_ROOT))
    else:
        doc = app.openapi()
        source = "app.openapi() (contracts/openapi.json not committed yet)"
    print(f"inventory compared against {source}")
    contract_ops = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m in HTTP_METHODS}
    documented: set[tuple[str, str]] = set()
    undocumented: set[tuple[str, str]] = set()
    for original, route in route_table(app):
        if isinstance(original, APIRoute):
            # Both flags: a route that opts out itself (include_in_schema=False) is undocumented
            # whatever its include context says.
            target = documented if route.include_in_schema and original.include_in_schema else undocumented
            target.update((m, route.path_format) for m in route.methods - {"HEAD"})
        elif isinstance(original, APIWebSocketRoute):
            undocumented.add(("WEBSOCKET", route.path_format))
    assert documented == contract_ops, (
        f"[{source}] only in app: {sorted(documented - contract_ops)}; only in contract: "
        f"{sorted(contract_ops - documented)}"
    )
    assert undocumented == UNDOCUMENTED
