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
    """LRU with per-entry expiry; single event loop, so no locking is needed.

    Bounded twice: by entries and by the bytes of the values (a few large values must not grow the
    process either). Past either bound the least recently used entries go.
    """

    backend = "memory"

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 2**20) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        if len(value) > self._max_bytes:
            self._drop(key)  # never cached, and no older copy may outlive the write
            return
        self._drop(key)
        self._data[key] = (time.monotonic() + ttl_s, value)
        self._bytes += len(value)
        while len(self._data) > self._max or self._bytes > self._max_bytes:
            _, (_, evicted) = self._data.popitem(last=False)
            self._bytes -= len(evicted)

    def _drop(self, key: str) -> None:
        entry = self._data.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])

    async def delete(self, key: str) -> None:
        self._drop(key)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._bytes = 0


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
