"""Read-through cache backends: in-process (default) or Redis.

A cache failure must never fail a request: callers treat every error as a miss, and writes are
best-effort. That is what lets the integration suite pause Redis and still see 200s.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("refapp.cache")


class Cache(Protocol):
    backend: str

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryCache:
    """LRU with per-entry expiry; single event loop, so no locking is needed."""

    backend = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self._data[key] = (time.monotonic() + ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


class RedisCache:
    backend = "redis"

    def __init__(self, client: Redis) -> None:
        self._client = client

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(key)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("cache get failed; treating as miss", extra={"error": repr(exc)})
            return None
        # The client is built without decode_responses, so values come back as bytes.
        return value if isinstance(value, bytes) or value is None else value.encode()

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        try:
            await self._client.set(key, value, ex=ttl_s)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("cache set failed", extra={"error": repr(exc)})

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete(key)
        except (RedisError, OSError, TimeoutError) as exc:
            # A failed invalidation leaves a stale entry for at most one TTL; say so loudly.
            log.error("cache invalidation failed", extra={"error": repr(exc), "key": key})

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        await self._client.aclose()


def item_key(prefix: str, item_id: int) -> str:
    """The documented key scheme: ``refapp:{env}:item:{id}``."""
    return f"{prefix}:item:{item_id}"
