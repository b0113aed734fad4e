"""JWT best current practices (RFC 8725) and API-key handling, in process.

Tokens are forged by hand (base64url + HMAC) rather than with PyJWT where PyJWT itself would
refuse to produce the attack (``alg=none`` variants, a PEM public key used as an HMAC secret).
Every forged token is sent to ``GET /api/v1/users/me``; each must be a 401 problem with
``WWW-Authenticate: Bearer``. A hand-made valid token is accepted, which shows the forgeries
fail for the reason under test, not because the forging is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from reference_app.core.config import DEV_JWT_SECRET, Settings, UnsafeSettingsError
from reference_app.core.security import KEY_ID
from reference_app.main import create_app
from tests.security.conftest import assert_problem, expect
from tests.utils.factories import UserHandle, create_api_key, create_item, item_payload

pytestmark = pytest.mark.security

ME = "/api/v1/users/me"
DROP = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None,
          digest: Callable[..., Any] = hashlib.sha256) -> str:
    """A compact JWS; ``key=None`` gives an empty signature (the ``alg=none`` shape)."""
    signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}"
    signature = "" if key is None else b64url(hmac.new(key, signing_input.encode(), digest).digest())
    return f"{signing_input}.{signature}"


def claims_for(settings: Settings, user_id: int | str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id), "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
        "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


def secret(settings: Settings) -> bytes:
    return settings.jwt_secret.get_secret_value().encode()


HS256 = {"alg": "HS256", "typ": "JWT", "kid": KEY_ID}


async def assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["detail"] == "Invalid or expired token."  # one message: the reason is not disclosed


async def test_control_handmade_token_accepted(client: httpx.AsyncClient, settings: Settings,
                                               user: UserHandle) -> None:
    """RFC 8725 §3.1 (control): a correctly signed hand-made HS256 token is accepted, so the forgeries
    below are refused for the flaw under test, not for how they were built."""
    token = forge(HS256, claims_for(settings, user.id), secret(settings))
    assert expect(await client.get(ME, headers={"Authorization": f"Bearer {token}"}), 200).json()["id"] == user.id


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_rejected(client: httpx.AsyncClient, settings: Settings, user: UserHandle, alg: str) -> None:
    """RFC 8725 §2.1 / §3.1: an unsecured JWT (alg=none, any casing, empty signature) is refused."""
    await assert_rejected(client, forge({"alg": alg, "typ": "JWT"}, claims_for(settings, user.id), None))
    # ... and with a signature made with the real key pasted on: the algorithm is still not ours.
    await assert_rejected(client, forge({"alg": alg, "typ": "JWT"}, claims_for(settings, user.id), secret(settings)))


async def test_hs256_signed_with_another_key(client: httpx.AsyncClient, settings: Settings,
                                             user: UserHandle) -> None:
    """RFC 8725 §3.3 / §3.5: an HS256 token signed with a different (even long, random) key is refused."""
    other = uuid.uuid4().hex.encode() * 2
    await assert_rejected(client, forge(HS256, claims_for(settings, user.id), other))


async def test_algorithm_confusion_rsa_public_key_as_hmac_secret(client: httpx.AsyncClient, settings: Settings,
                                                                 user: UserHandle) -> None:
    """RFC 8725 §2.1 / §3.1 (algorithm confusion): HS256 keyed with an RSA public-key PEM is refused;
    so is a genuine RS256 token: the algorithm is pinned by the server, never taken from the token."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = claims_for(settings, user.id)
    await assert_rejected(client, forge(HS256, claims, pem))
    await assert_rejected(client, forge({**HS256, "alg": "HS256"}, claims, pem.strip()))
    rs256 = jwt.encode(claims, private, algorithm="RS256", headers={"kid": KEY_ID})
    await assert_rejected(client, rs256)


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud", "iss"])
async def test_missing_required_claim(client: httpx.AsyncClient, settings: Settings, user: UserHandle,
                                      claim: str) -> None:
    """RFC 8725 §3.8 / §3.9 and RFC 7519 §4.1.4: a token without exp (or iat/sub/aud/iss) is refused."""
    await assert_rejected(client, forge(HS256, claims_for(settings, user.id, **{claim: DROP}), secret(settings)))


@pytest.mark.parametrize(("offset", "status"), [pytest.param(-30, 401, id="expired-beyond-leeway"),
                                                pytest.param(-2, 200, id="expired-within-leeway-accepted")])
async def test_expiry_and_leeway(client: httpx.AsyncClient, settings: Settings, user: UserHandle,
                                 offset: int, status: int) -> None:
    """RFC 7519 §4.1.4 (RFC 8725 §3.10): expired beyond the configured leeway is refused; within it, accepted."""
    now = int(time.time())
    exp = now + offset - (settings.jwt_leeway_s if offset < -settings.jwt_leeway_s else 0)
    token = forge(HS256, claims_for(settings, user.id, exp=exp, iat=now - 600, nbf=now - 600), secret(settings))
    if status == 401:
        await assert_rejected(client, token)
    else:
        expect(await client.get(ME, headers={"Authorization": f"Bearer {token}"}), 200)


async def test_nbf_in_future(client: httpx.AsyncClient, settings: Settings, user: UserHandle) -> None:
    """RFC 7519 §4.1.5 (RFC 8725 §3.10): a token not valid before a future time is refused now."""
    future = int(time.time()) + 3600
    await assert_rejected(client, forge(HS256, claims_for(settings, user.id, nbf=future, exp=future + 600),
                                        secret(settings)))


@pytest.mark.parametrize(
    "overrides",
    [pytest.param({"aud": "another-api"}, id="wrong-aud"),
     pytest.param({"aud": ["another-api", "yet-another"]}, id="wrong-aud-list"),
     pytest.param({"iss": "https://evil.example"}, id="wrong-iss")],
)
async def test_wrong_audience_or_issuer(client: httpx.AsyncClient, settings: Settings, user: UserHandle,
                                        overrides: dict[str, Any]) -> None:
    """RFC 8725 §3.8 (issuer) / §3.9 (audience): a token minted for someone else is refused."""
    await assert_rejected(client, forge(HS256, claims_for(settings, user.id, **overrides), secret(settings)))


async def test_refresh_token_used_as_access_token(client: httpx.AsyncClient, user: UserHandle) -> None:
    """RFC 8725 §3.11 / §3.12 (cross-JWT confusion): a refresh token is not an access token, nor vice versa."""
    await assert_rejected(client, user.refresh_token)
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.access_token})
    assert_problem(r, 401)
    # Control: the refresh token does work where it belongs.
    expect(await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 200)


async def test_tampered_payload(client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle) -> None:
    """RFC 8725 §3.3 (validate all cryptographic operations): a payload edited after signing is refused."""
    header, payload, signature = user.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(other_user.id)
    await assert_rejected(client, f"{header}.{b64url(_json(claims))}.{signature}")
    claims["sub"], claims["exp"] = str(user.id), claims["exp"] + 86_400  # extend own lifetime
    await assert_rejected(client, f"{header}.{b64url(_json(claims))}.{signature}")
    expect(await client.get(ME, headers=user.headers), 200)


@pytest.mark.parametrize(
    "token",
    [pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", id="two-segments"),
     pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE", id="four-segments"),
     pytest.param("!!!.@@@.###", id="not-base64"),
     pytest.param("e30.e30.", id="empty-json-empty-signature"),
     pytest.param("." * 2, id="only-dots"),
     pytest.param("a" * 5000, id="one-long-blob")],
)
async def test_malformed_token(client: httpx.AsyncClient, token: str) -> None:
    """RFC 8725 §3.4 (validate cryptographic inputs): malformed compact serializations are a 401, not a 500."""
    await assert_rejected(client, token)


@pytest.mark.parametrize(
    "kid",
    ["../../../../dev/null", "/dev/null", "../../../../../../etc/passwd", "' OR '1'='1", "refapp-hs-1/../x"],
)
async def test_kid_header_injection(client: httpx.AsyncClient, settings: Settings, user: UserHandle,
                                    kid: str) -> None:
    """RFC 8725 §3.10 (do not trust received claims): a path-traversal/SQL ``kid`` never selects a key;
    signed with the empty key (``/dev/null``'s contents) or with the real key, it is refused."""
    header = {**HS256, "kid": kid}
    await assert_rejected(client, forge(header, claims_for(settings, user.id), b""))
    await assert_rejected(client, forge(header, claims_for(settings, user.id), secret(settings)))


@pytest.mark.parametrize(
    "extra",
    [pytest.param({"crit": ["exp-policy"], "exp-policy": "lenient"}, id="unknown-crit"),
     pytest.param({"jku": "https://evil.example/jwks.json"}, id="jku"),
     pytest.param({"jwk": {"kty": "oct", "k": b64url(b"attacker")}}, id="embedded-jwk"),
     pytest.param({"x5u": "https://evil.example/cert.pem"}, id="x5u")],
)
async def test_unknown_crit_and_key_headers(client: httpx.AsyncClient, settings: Settings, user: UserHandle,
                                            extra: dict[str, Any]) -> None:
    """RFC 7515 §4.1.11 / RFC 8725 §3.10: an unknown ``crit`` extension (and jku/jwk/x5u key pointers)
    is refused even on an otherwise valid signature."""
    await assert_rejected(client, forge({**HS256, **extra}, claims_for(settings, user.id), secret(settings)))


@pytest.mark.parametrize(
    "weak",
    [pytest.param("short-secret", id="short"), pytest.param(DEV_JWT_SECRET, id="documented-default"),
     pytest.param("x" * 31, id="31-bytes")],
)
def test_weak_secret_refused_at_startup_in_prod(make_settings: Callable[..., Settings], weak: str) -> None:
    """RFC 8725 §3.5 (sufficient key entropy) / §2.2: prod start-up refuses a weak or published secret."""
    with pytest.raises(UnsafeSettingsError):
        create_app(make_settings(env="prod", jwt_secret=weak))
    create_app(make_settings(env="prod", jwt_secret=uuid.uuid4().hex * 2))  # control: a real secret starts


async def test_revoked_api_key_stops_at_once(client: httpx.AsyncClient, user: UserHandle) -> None:
    """API2:2023 Broken Authentication: a revoked API key is refused on the very next request (TTL 0)."""
    key = await create_api_key(client, user, ["read", "write"])
    headers = {"X-API-Key": key["key"]}
    expect(await client.get("/api/v1/items", headers=headers), 200)
    expect(await client.delete(f"/api/v1/api-keys/{key['id']}", headers=user.headers), 204)
    assert_problem(await client.get("/api/v1/items", headers=headers), 401)
    assert_problem(await client.post("/api/v1/items", json=item_payload(), headers=headers), 401)
    assert_problem(await client.get("/api/v1/items", headers={"X-API-Key": key["key"] + "x"}), 401)


async def test_read_scope_key_cannot_write(client: httpx.AsyncClient, user: UserHandle) -> None:
    """API5:2023 BFLA / least privilege: a read-scope API key gets 403 on every write, 200 on reads."""
    item = await create_item(client, user)
    key = await create_api_key(client, user, ["read"])
    headers = {"X-API-Key": key["key"]}
    expect(await client.get(f"/api/v1/items/{item['id']}", headers=headers), 200)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/items", {"json": item_payload()}),
        ("PUT", f"/api/v1/items/{item['id']}",
         {"json": item_payload(), "headers": {"If-Match": f'"{item["id"]}.{item["version"]}"'}}),
        ("DELETE", f"/api/v1/items/{item['id']}", {}),
        ("PATCH", ME, {"json": {"full_name": "changed"}}),
        ("POST", "/api/v1/jobs", {"json": {"kind": "item_report"}}),
        ("POST", "/api/v1/files", {"files": {"file": ("a.txt", b"a", "text/plain")}}),
    ]
    for method, path, kw in writes:
        kw_all: dict[str, Any] = {**kw, "headers": {**headers, **kw.get("headers", {})}}
        assert_problem(await client.request(method, path, **kw_all), 403)
    # A key can't mint more keys either (a leaked key must not be able to persist itself).
    assert_problem(await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["write"]}, headers=headers), 403)
    assert (await client.get(f"/api/v1/items/{item['id']}", headers=user.headers)).json()["version"] == item["version"]


async def test_bearer_token_for_deleted_user_subject(client: httpx.AsyncClient, app: FastAPI,
                                                     settings: Settings) -> None:
    """RFC 8725 §3.8 (validate subject): a validly signed token whose subject does not exist is a 401."""
    for sub in ("999999", "client-less", "-1", "1e3"):
        await assert_rejected(client, forge(HS256, claims_for(settings, sub), secret(settings)))
