"""In-process publish/subscribe for websocket subscribers of an item.

Per process by design: under several workers a subscriber sees updates made through its own
worker only. A Redis pub/sub fan-out is the upgrade path (noted in README, not built).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

QUEUE_SIZE = 100


class HubFull(Exception):
    """As many subscribers as the hub allows; the caller refuses the new one (websocket close 1013)."""


class Hub:
    """Bounded: at most ``max_subscribers`` queues (each holds at most ``QUEUE_SIZE`` events), and a
    topic's entry goes with its last subscriber. A subscriber past the bound is refused, not queued:
    evicting a live one would silently cut off a client that did nothing wrong."""

    def __init__(self, max_subscribers: int = 1000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.max_subscribers = max_subscribers
        self._count = 0

    def subscribe(self, topic: str) -> asyncio.Queue[dict[str, Any]]:
        if self._count >= self.max_subscribers:
            raise HubFull(f"{self._count} websocket subscribers already")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[topic].add(queue)
        self._count += 1
        return queue

    @property
    def total(self) -> int:
        return self._count

    def unsubscribe(self, topic: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is not None and queue in subscribers:
            subscribers.discard(queue)
            self._count -= 1
            if not subscribers:
                del self._subscribers[topic]

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        """Deliver without blocking; a subscriber that can't keep up loses events, not the publisher."""
        delivered = 0
        for queue in self._subscribers.get(topic, ()):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                continue
        return delivered

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def close(self) -> None:
        self._subscribers.clear()
        self._count = 0
