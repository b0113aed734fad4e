"""In-process publish/subscribe for websocket subscribers of an item.

Per process by design: under several workers a subscriber sees updates made through its own
worker only. A Redis pub/sub fan-out is the upgrade path (noted in README, not built).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

QUEUE_SIZE = 100


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribe(self, topic: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[topic].add(queue)
        return queue

    def unsubscribe(self, topic: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(queue)
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
