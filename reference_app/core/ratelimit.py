"""Rate limiting on the ``limits`` library (moving window), memory or Redis storage.

Limits are keyed by principal when there is one (user or API key) and by client address
otherwise. ``X-Forwarded-For`` is believed only from configured proxies (uvicorn's
ProxyHeadersMiddleware, REFAPP_TRUSTED_PROXIES), so a client cannot reset its own bucket by
inventing a header.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, get_args

from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio import ConnectionPool

from reference_app.core.config import Settings
from reference_app.core.errors import ServiceUnavailable, TooManyRequests

log = logging.getLogger("refapp.ratelimit")


@dataclass(frozen=True, slots=True)
class LimitState:
    limit: int
    remaining: int
    reset_after_s: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after_s),
        }


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.fail_open = settings.rate_limit_fail_open
        self._prefix = settings.cache_key_prefix
        self.storage: Storage
        self._pool: ConnectionPool | None = None
        if settings.redis_url:
            uri = "async+" + settings.redis_url
            # Our own pool, so that ``close`` can release its sockets: the storage offers no close.
            self._pool = ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_s, socket_connect_timeout=settings.redis_timeout_s,
            )
            storage = storage_from_string(
                uri, implementation="redispy", wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]  # documented parameter; limits types **options narrower
            )
            if not isinstance(storage, Storage):  # an "async+" URI always yields an async storage
                raise TypeError(f"expected an async storage for {uri!r}")
            self.storage = storage
            self.backend = "redis"
        else:
            self.storage = MemoryStorage()
            self.backend = "memory"
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.limits: dict[str, RateLimitItem] = {name: parse(getattr(settings, name)) for name in LIMIT_SETTINGS}

    @staticmethod
    def client_ip(request: Request) -> str:
        """The socket peer, or with REFAPP_TRUSTED_PROXIES the client that uvicorn's
        ProxyHeadersMiddleware (installed in create_app) found in X-Forwarded-For."""
        return request.client.host if request.client else "unknown"

    async def hit(self, scope: str, limit: RateLimitItem, key: str) -> LimitState:
        """Count one request; raise 429 (or 503 when failing closed) with the documented headers."""
        try:
            allowed = await self._strategy.hit(limit, self._prefix, scope, key)
            stats = await self._strategy.get_window_stats(limit, self._prefix, scope, key)
        except StorageError as exc:
            log.warning("rate-limit storage unavailable", extra={"error": repr(exc), "fail_open": self.fail_open})
            if self.fail_open:
                return LimitState(limit.amount, limit.amount, limit.get_expiry())
            raise ServiceUnavailable("Rate limiting is unavailable.", headers={"Retry-After": "1"}) from exc
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        state = LimitState(limit.amount, max(0, stats.remaining), reset_after)
        if not allowed:
            raise TooManyRequests(
                f"Rate limit of {limit} exceeded.",
                headers={"Retry-After": str(reset_after), **state.headers()},
            )
        return state

    async def ping(self) -> bool:
        try:
            return bool(await self.storage.check())
        except Exception:  # noqa: BLE001 - any failure means "not healthy", which is the answer
            return False

    async def reset(self) -> None:
        await self.storage.reset()

    async def close(self) -> None:
        """Release the Redis connections (called from the app's lifespan on shutdown)."""
        if self._pool is not None:
            await self._pool.aclose()


KeyFunc = Callable[[Request], Awaitable[str]]
LimitName = Literal["default_limit", "login_limit", "signup_limit", "reset_limit", "lab_limit"]
LIMIT_SETTINGS: tuple[LimitName, ...] = get_args(LimitName)


async def apply_limit(request: Request, response: Response, scope: str, setting: LimitName, key: str) -> None:
    limiter: RateLimiter = request.app.state.limiter
    if not limiter.enabled:
        return
    try:
        state = await limiter.hit(scope, limiter.limits[setting], key)
    except TooManyRequests:
        metrics = request.app.state.metrics
        if metrics is not None:
            metrics.rate_limited.labels(scope).inc()
        raise
    for name, value in state.headers().items():
        response.headers[name] = value


def limit_dependency(scope: str, setting: LimitName, key_func: KeyFunc) -> Callable[..., Awaitable[None]]:
    """A route dependency enforcing the limit named by ``setting`` (read per app) and setting the headers."""

    async def enforce(request: Request, response: Response) -> None:
        await apply_limit(request, response, scope, setting, await key_func(request))

    return enforce


async def by_client_ip(request: Request) -> str:
    limiter: RateLimiter = request.app.state.limiter
    return "ip:" + limiter.client_ip(request)
