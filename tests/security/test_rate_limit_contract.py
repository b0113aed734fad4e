"""The rate-limit contract: Retry-After, single-valued X-RateLimit-* headers, buckets that a
client can neither reset (spoofed X-Forwarded-For) nor share with someone else.

The in-process transport's peer address is 203.0.113.7 (TEST-NET-3), an untrusted client unless
a case configures it as a proxy.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import AppCache, assert_problem, expect
from tests.utils.factories import create_api_key, create_user

pytestmark = pytest.mark.security

LIMITED = "/api/v1/lab/limited"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
PEER = "203.0.113.7"


async def test_retry_after_present_on_429(cached_app: AppCache, client_for: Any) -> None:
    """API4:2023 Unrestricted Resource Consumption: a 429 carries Retry-After (delta-seconds) and the
    X-RateLimit-* headers, with Remaining at 0."""
    async with client_for(cached_app(lab_limit="2/minute")) as c:
        first = expect(await c.get(LIMITED), 200)
        assert first.headers["X-RateLimit-Remaining"] == "1"
        expect(await c.get(LIMITED), 200)
        r = await c.get(LIMITED)
        assert_problem(r, 429)
        retry_after = int(r.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert r.headers["X-RateLimit-Limit"] == "2"
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(r.headers["X-RateLimit-Reset"]) <= 60


@pytest.mark.parametrize(
    ("path", "method", "status", "warmup"),
    [pytest.param(LIMITED, "GET", 200, 0, id="lab-200"),
     pytest.param(LIMITED, "GET", 429, 2, id="lab-429"),
     pytest.param("/api/v1/items", "GET", 200, 0, id="items-200"),
     pytest.param("/api/v1/items", "GET", 429, 6, id="items-429"),
     pytest.param("/api/v1/auth/token", "POST", 429, 3, id="login-429")],
)
async def test_ratelimit_headers_single_valued(cached_app: AppCache, client_for: Any, path: str, method: str,
                                               status: int, warmup: int) -> None:
    """API4:2023: each X-RateLimit-* header (and Retry-After) appears exactly once, on 2xx and on 429."""
    app = cached_app(lab_limit="2/minute", default_limit="6/minute", login_limit="3/minute")
    async with client_for(app) as c:
        user = await create_user(c)  # the login inside counts one login hit
        kwargs: dict[str, Any] = {"headers": user.headers}
        if method == "POST":
            kwargs = {"data": {"username": user.email, "password": "wrong-password"}}
        for _ in range(warmup - (1 if method == "POST" else 0)):
            await c.request(method, path, **kwargs)
        r = await c.request(method, path, **kwargs)
        expect(r, status)
        for name in RATE_HEADERS:
            assert len(r.headers.get_list(name)) == 1, (name, r.headers.get_list(name))
        assert len(r.headers.get_list("Retry-After")) == (1 if status == 429 else 0)
        assert len(r.headers.get_list("X-Request-ID")) == 1


@pytest.mark.parametrize(
    "spoof",
    [pytest.param(lambda n: {"X-Forwarded-For": f"198.51.100.{n}"}, id="x-forwarded-for"),
     pytest.param(lambda n: {"X-Forwarded-For": f"198.51.100.{n}, {PEER}"}, id="x-forwarded-for-chain"),
     pytest.param(lambda n: {"X-Real-IP": f"198.51.100.{n}"}, id="x-real-ip"),
     pytest.param(lambda n: {"Forwarded": f"for=198.51.100.{n}"}, id="forwarded"),
     pytest.param(lambda n: {"X-Forwarded-For": "127.0.0.1"}, id="loopback-claim")],
)
async def test_spoofed_forwarded_for_does_not_reset_bucket(cached_app: AppCache, client_for: Any,
                                                           spoof: Any) -> None:
    """API4:2023: forwarding headers from an untrusted peer are ignored; a fresh fake address per
    request does not buy a fresh bucket."""
    async with client_for(cached_app(lab_limit="2/minute")) as c:
        for n in range(2):
            expect(await c.get(LIMITED, headers=spoof(n)), 200)
        assert_problem(await c.get(LIMITED, headers=spoof(77)), 429)
        assert_problem(await c.get(LIMITED), 429)  # and the peer itself is the one limited


async def test_forwarded_for_honoured_only_from_trusted_proxy(cached_app: AppCache, client_for: Any) -> None:
    """API4:2023 (control for the spoofing case): from a configured proxy, X-Forwarded-For keys the bucket;
    the client part is the right-most untrusted hop, so prepending fake hops does not reset it."""
    app = cached_app(lab_limit="2/minute", trusted_proxies=[PEER])
    async with client_for(app) as c:
        for _n in range(2):
            expect(await c.get(LIMITED, headers={"X-Forwarded-For": "198.51.100.1"}), 200)
        assert_problem(await c.get(LIMITED, headers={"X-Forwarded-For": "198.51.100.1"}), 429)
        # A different real client behind the proxy has its own bucket.
        expect(await c.get(LIMITED, headers={"X-Forwarded-For": "198.51.100.2"}), 200)
        # The limited client prepending forged hops is still 198.51.100.1 to the limiter.
        assert_problem(await c.get(LIMITED, headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.1"}), 429)


@pytest.mark.parametrize("exhaust", ["bearer", "api-key"])
async def test_per_user_and_per_key_buckets_independent(cached_app: AppCache, client_for: Any, exhaust: str) -> None:
    """API4:2023: buckets are per principal: a user's token, the same user's API key and another user
    each have their own, so one caller exhausting its budget does not deny the others."""
    async with client_for(cached_app(default_limit="3/minute")) as c:
        alice, bob = await create_user(c), await create_user(c)
        key = await create_api_key(c, alice, ["read"])
        via = {"bearer": alice.headers, "api-key": {"X-API-Key": key["key"]}}
        other = "api-key" if exhaust == "bearer" else "bearer"
        for _ in range(3):
            expect(await c.get("/api/v1/items", headers=via[exhaust]), 200)
        assert_problem(await c.get("/api/v1/items", headers=via[exhaust]), 429)
        r = expect(await c.get("/api/v1/items", headers=via[other]), 200)
        assert r.headers["X-RateLimit-Remaining"] == "2"
        expect(await c.get("/api/v1/items", headers=bob.headers), 200)
        # Unauthenticated traffic never reaches (or drains) a principal's bucket.
        assert_problem(await c.get("/api/v1/items"), 401)
        assert_problem(await c.get("/api/v1/items", headers=via[exhaust]), 429)


async def test_limiter_keyed_by_client_not_by_path_tricks(cached_app: AppCache, client_for: Any) -> None:
    """API4:2023: path variants (trailing slash, query string, case of headers) share the same bucket."""
    async with client_for(cached_app(lab_limit="2/minute")) as c:
        expect(await c.get(LIMITED, params={"a": "1"}), 200)
        expect(await c.get(LIMITED, params={"b": "2"}), 200)
        assert_problem(await c.get(LIMITED, params={"c": "3"}), 429)
        r = await c.get(LIMITED + "/")
        assert r.status_code in (307, 404, 429)
        assert r.status_code < 500
        if r.status_code == 307:
            assert_problem(await c.get(r.headers["location"]), 429)
