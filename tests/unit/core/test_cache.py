"""Cache backends: in-memory LRU with TTL, and Redis where every failure degrades to a miss."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from reference_app.core import cache as cache_module
from reference_app.core.cache import MemoryCache, RedisCache, item_key


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(monotonic=c.monotonic))
    return c


def test_item_key_scheme() -> None:
    assert item_key("refapp:prod", 17) == "refapp:prod:item:17"


async def test_memory_set_get_delete() -> None:
    cache = MemoryCache()
    assert await cache.get("k") is None
    await cache.set("k", b"v", 10)
    assert await cache.get("k") == b"v"
    await cache.delete("k")
    await cache.delete("k")  # deleting a missing key is fine
    assert await cache.get("k") is None
    assert cache.backend == "memory"
    assert await cache.ping() is True


async def test_memory_ttl_expiry(clock: Clock) -> None:
    cache = MemoryCache()
    await cache.set("k", b"v", 2)
    clock.now += 1.99
    assert await cache.get("k") == b"v"
    clock.now += 0.01
    assert await cache.get("k") is None
    assert "k" not in cache._data  # expired entries are dropped, not kept around


async def test_memory_set_overwrites_and_renews_ttl(clock: Clock) -> None:
    cache = MemoryCache()
    await cache.set("k", b"old", 1)
    clock.now += 0.5
    await cache.set("k", b"new", 1)
    clock.now += 0.9
    assert await cache.get("k") == b"new"


async def test_memory_lru_eviction() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"  # a is now most recently used
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None
    assert (await cache.get("a"), await cache.get("c")) == (b"1", b"3")


async def test_memory_close_clears() -> None:
    cache = MemoryCache()
    await cache.set("a", b"1", 60)
    await cache.close()
    assert await cache.get("a") is None


class FakeRedis:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.data: dict[str, tuple[bytes, int | None]] = {}
        self.closed = False

    def _check(self) -> None:
        if self.fail:
            raise RedisConnectionError("redis down")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.data.get(key, (None, None))[0]

    async def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self._check()
        self.data[key] = (value, ex)

    async def delete(self, key: str) -> None:
        self._check()
        self.data.pop(key, None)

    async def ping(self) -> bool:
        self._check()
        return True

    async def aclose(self) -> None:
        self.closed = True


def redis_cache(fake: FakeRedis) -> RedisCache:
    client: Any = fake
    return RedisCache(client)


async def test_redis_cache_round_trip_with_ttl() -> None:
    fake = FakeRedis()
    cache = redis_cache(fake)
    await cache.set("k", b"v", 30)
    assert fake.data["k"] == (b"v", 30)
    assert await cache.get("k") == b"v"
    await cache.delete("k")
    assert await cache.get("k") is None
    assert await cache.ping() is True
    await cache.close()
    assert fake.closed
    assert cache.backend == "redis"


async def test_redis_failures_degrade_to_misses() -> None:
    cache = redis_cache(FakeRedis(fail=True))
    assert await cache.get("k") is None
    await cache.set("k", b"v", 30)
    assert await cache.ping() is False


async def test_redis_failed_invalidation_is_logged_as_error() -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logger = logging.getLogger("refapp.cache")
    logger.addHandler(handler)
    try:
        await redis_cache(FakeRedis(fail=True)).delete("refapp:test:item:1")
    finally:
        logger.removeHandler(handler)
    (record,) = records
    assert record.levelno == logging.ERROR
    assert record.key == "refapp:test:item:1"  # type: ignore[attr-defined]


async def test_memory_cache_entries_and_bytes_stay_bounded() -> None:
    from tests.utils.memory import assert_plateau, traced_after_each

    cache = MemoryCache(max_entries=500, max_bytes=10**9)

    async def fill(r: int) -> None:
        for i in range(1500):  # 3x the bound, new keys every round
            await cache.set(f"k{r}-{i}", b"x" * 200, 60)
        assert len(cache) == 500

    assert_plateau(await traced_after_each(fill))
    assert await cache.get("k2-1499") is not None  # LRU order
    assert await cache.get("k2-0") is None

    by_bytes = MemoryCache(max_entries=10**6, max_bytes=10_000)
    for i in range(100):
        await by_bytes.set(f"b{i}", b"y" * 1000, 60)
        assert by_bytes.size_bytes <= 10_000
    assert len(by_bytes) == 10
    await by_bytes.set("b99", b"z" * 10, 60)  # replacing a value accounts for the old one
    assert by_bytes.size_bytes == 9 * 1000 + 10
    await by_bytes.set("huge", b"h" * 20_000, 60)  # larger than the whole cache: never stored
    assert await by_bytes.get("huge") is None
    assert by_bytes.size_bytes == 9010
    await by_bytes.delete("b99")
    assert by_bytes.size_bytes == 9000
