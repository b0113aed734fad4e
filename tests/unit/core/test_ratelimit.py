"""Rate limiting on ``limits``: 429 + headers, per-principal buckets, proxies, fail-open/closed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from reference_app.core.ratelimit import LimitState, RateLimiter
from reference_app.main import create_app
from tests.utils.factories import api_key_headers, create_api_key, create_user

LIMITED = "/api/v1/lab/limited"
RL_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@asynccontextmanager
async def peer_client(app: FastAPI, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose socket address (what the app sees as the peer) is ``peer``."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


class FailingStorage(MemoryStorage):
    """Limiter storage that is down (as Redis would be), raising what ``limits`` raises."""

    async def acquire_entry(self, *args: Any, **kwargs: Any) -> bool:
        raise StorageError(ConnectionError("storage down"))

    async def check(self) -> bool:
        raise StorageError(ConnectionError("storage down"))


def break_storage(app: FastAPI) -> None:
    limiter: RateLimiter = app.state.limiter
    limiter.storage = FailingStorage()
    limiter._strategy = MovingWindowRateLimiter(limiter.storage)


# ---- 429 and headers --------------------------------------------------------------------------------


async def test_429_with_retry_after_and_single_valued_headers(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(lab_limit="2/minute"))
    async with client_for(app) as c:
        first, second, third = [await c.get(LIMITED) for _ in range(3)]
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert (first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]) == ("1", "0")
    assert third.headers["content-type"] == "application/problem+json"
    assert third.json()["type"].endswith("/rate-limited")
    assert 1 <= int(third.headers["retry-after"]) <= 60
    for r in (first, third):
        for name in RL_HEADERS:
            assert len(r.headers.get_list(name)) == 1, name
    assert third.headers["x-ratelimit-limit"] == "2"
    assert third.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(third.headers["x-ratelimit-reset"]) <= 60


async def test_login_is_throttled_even_for_wrong_passwords(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(login_limit="3/minute"))
    async with client_for(app) as c:
        u = await create_user(c)  # one login
        codes = [(await c.post("/api/v1/auth/token", data={"username": u.email, "password": "wrong-one"}))
                 .status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        right = await c.post("/api/v1/auth/token", data={"username": u.email, "password": u.password})
        assert right.status_code == 429  # the bucket is the client's, whatever the password
        assert "retry-after" in right.headers


async def test_signup_is_throttled(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(signup_limit="1/hour"))
    async with client_for(app) as c:
        await create_user(c)
        r = await c.post("/api/v1/users", json={"email": "second@example.com", "password": "long enough"})
        assert r.status_code == 429


async def test_per_user_buckets_are_independent(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(default_limit="3/minute"))
    async with client_for(app) as c:
        alice, bob = await create_user(c), await create_user(c)
        alice_codes = [(await c.get("/api/v1/items", headers=alice.headers)).status_code for _ in range(4)]
        assert alice_codes == [200, 200, 200, 429]
        bob_r = await c.get("/api/v1/items", headers=bob.headers)
        assert bob_r.status_code == 200
        assert bob_r.headers["x-ratelimit-remaining"] == "2"


async def test_api_key_bucket_is_separate_from_its_users_token(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(default_limit="2/minute"))
    async with client_for(app) as c:
        u = await create_user(c)
        key = await create_api_key(c, u, ["read"])
        for _ in range(2):
            await c.get("/api/v1/items", headers=u.headers)
        assert (await c.get("/api/v1/items", headers=u.headers)).status_code == 429
        by_key = await c.get("/api/v1/items", headers=api_key_headers(key["key"]))
        assert by_key.status_code == 200
        assert by_key.headers["x-ratelimit-remaining"] == "1"


async def test_disabled_limiter_sets_no_headers(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(rate_limit_enabled=False, lab_limit="1/minute"))
    async with client_for(app) as c:
        rs = [await c.get(LIMITED) for _ in range(3)]
    assert [r.status_code for r in rs] == [200, 200, 200]
    assert "x-ratelimit-limit" not in rs[0].headers


# ---- client address and proxies -----------------------------------------------------------------------


async def test_spoofed_forwarded_for_from_untrusted_peer_does_not_reset(
    make_settings: Callable[..., Any]
) -> None:
    app = create_app(make_settings(lab_limit="2/minute", trusted_proxies="10.0.0.0/8"))
    async with peer_client(app, "203.0.113.50") as c:
        codes = [(await c.get(LIMITED, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                 for i in range(4)]
    assert codes == [200, 200, 429, 429]


async def test_forwarded_for_from_trusted_proxy_is_honoured(make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings(lab_limit="2/minute", trusted_proxies="10.0.0.0/8"))
    async with peer_client(app, "10.1.2.3") as c:
        a = [(await c.get(LIMITED, headers={"X-Forwarded-For": "198.51.100.1"})).status_code for _ in range(3)]
        b = await c.get(LIMITED, headers={"X-Forwarded-For": "198.51.100.2"})
    assert a == [200, 200, 429]
    assert b.status_code == 200


async def test_without_trusted_proxies_forwarded_for_is_ignored(make_settings: Callable[..., Any]) -> None:
    app = create_app(make_settings(lab_limit="1/minute"))
    async with peer_client(app, "10.1.2.3") as c:
        codes = [(await c.get(LIMITED, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                 for i in range(2)]
    assert codes == [200, 429]


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "1.1.1.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),  # rightmost untrusted hop
        ("10.0.0.5", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # every hop is ours: the first proxy was the client
        ("10.0.0.5", "", "10.0.0.5"),  # nothing usable: the peer
        ("10.0.0.5", "not-an-ip", "not-an-ip"),
        ("203.0.113.9", "198.51.100.7", "203.0.113.9"),  # an untrusted peer's header is not believed
        ("unix-socket", "198.51.100.7", "unix-socket"),
    ],
)
async def test_access_log_and_limiter_see_the_client_the_proxy_reports(
    make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture, peer: str, xff: str, expected: str
) -> None:
    """REFAPP_TRUSTED_PROXIES goes through uvicorn's ProxyHeadersMiddleware, outside the access log."""
    app = create_app(make_settings(trusted_proxies="10.0.0.0/8", access_log=True, access_log_sample_ratio=1.0,
                                   lab_limit="1/minute"))
    logger = logging.getLogger("refapp.access")
    logger.addHandler(caplog.handler)  # the refapp tree does not propagate to the root logger
    try:
        async with peer_client(app, peer) as c:
            with caplog.at_level(logging.INFO, logger="refapp.access"):
                first = await c.get(LIMITED, headers={"X-Forwarded-For": xff})
                second = await c.get(LIMITED, headers={"X-Forwarded-For": xff})
    finally:
        logger.removeHandler(caplog.handler)
    clients = [getattr(r, "client", None) for r in caplog.records if r.name == "refapp.access"]
    assert clients == [expected, expected]
    assert (first.status_code, second.status_code) == (200, 429)  # one bucket: the resolved client's
    assert RateLimiter.client_ip(SimpleNamespace(client=None)) == "unknown"  # type: ignore[arg-type]


def test_a_malformed_trusted_proxy_is_refused_at_startup(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        make_settings(trusted_proxies="10.0.0.0/8,proxy.example")
    assert make_settings(trusted_proxies="10.1.2.3/8").trusted_proxies == ["10.0.0.0/8"]


# ---- storage failure ----------------------------------------------------------------------------------


async def test_fail_open_lets_requests_through(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(lab_limit="1/minute", rate_limit_fail_open=True))
    async with client_for(app) as c:
        break_storage(app)
        rs = [await c.get(LIMITED) for _ in range(3)]
        ready = await c.get("/health/ready")
    assert [r.status_code for r in rs] == [200, 200, 200]
    assert rs[0].headers["x-ratelimit-remaining"] == "1"
    assert ready.status_code == 503
    assert ready.json()["checks"]["rate_limiter"] == "failed"


async def test_fail_closed_refuses_with_503(make_settings: Callable[..., Any], client_for: Callable[..., Any]) -> None:
    app = create_app(make_settings(rate_limit_fail_open=False))
    async with client_for(app) as c:
        break_storage(app)
        r = await c.get(LIMITED)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"


async def test_redis_backend_that_is_down_fails_open(
    make_settings: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    # Nothing listens on port 1: every storage call fails fast, which is the "Redis is down" case.
    app = create_app(make_settings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2))
    async with client_for(app) as c:
        config = (await c.get("/api/v1/lab/config")).json()
        limited = await c.get(LIMITED)
        ready = await c.get("/health/ready")
    assert (config["cache_backend"], config["limiter_backend"]) == ("redis", "redis")
    assert limited.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "cache": "failed", "rate_limiter": "failed"}


# ---- limiter object ----------------------------------------------------------------------------------


def test_limit_state_headers() -> None:
    assert LimitState(10, 3, 42).headers() == {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3",
                                               "X-RateLimit-Reset": "42"}


async def test_limiter_hit_counts_down_and_resets(make_settings: Callable[..., Any]) -> None:
    limiter = RateLimiter(make_settings())
    limit = parse("2/minute")
    first = await limiter.hit("scope", limit, "k")
    second = await limiter.hit("scope", limit, "k")
    assert (first.remaining, second.remaining) == (1, 0)
    assert await limiter.ping() is True
    await limiter.reset()
    assert (await limiter.hit("scope", limit, "k")).remaining == 1


def test_limits_are_parsed_from_settings(make_settings: Callable[..., Any]) -> None:
    limiter = RateLimiter(make_settings(lab_limit="5/second", login_limit="7/hour"))
    assert (limiter.limits["lab_limit"].amount, limiter.limits["lab_limit"].get_expiry()) == (5, 1)
    assert (limiter.limits["login_limit"].amount, limiter.limits["login_limit"].get_expiry()) == (7, 3600)
    assert limiter.backend == "memory"


async def test_memory_limiter_forgets_least_recently_hit_keys_past_its_bound() -> None:
    from reference_app.core.ratelimit import BoundedMemoryStorage
    from tests.utils.memory import assert_plateau, traced_after_each

    storage = BoundedMemoryStorage(max_keys=1000)
    strategy = MovingWindowRateLimiter(storage)
    limit = parse("5/minute")

    async def fill(r: int) -> None:
        for i in range(3000):  # 3x the bound, distinct clients every round
            assert await strategy.hit(limit, "refapp", "lab", f"ip:{r}.{i}")
            assert storage.key_count() <= 1000

    assert_plateau(await traced_after_each(fill))
    # The most recent clients are still counted; the first ones were forgotten.
    assert (await strategy.get_window_stats(limit, "refapp", "lab", "ip:2.2999")).remaining == 4
    assert (await strategy.get_window_stats(limit, "refapp", "lab", "ip:0.0")).remaining == 5
    if storage.timer is not None:
        storage.timer.cancel()


def test_memory_limiter_uses_the_bounded_storage() -> None:
    from reference_app.core.config import Settings
    from reference_app.core.ratelimit import BoundedMemoryStorage

    limiter = RateLimiter(Settings(rate_limit_max_keys=123))
    assert isinstance(limiter.storage, BoundedMemoryStorage)
    assert limiter.storage.max_keys == 123
