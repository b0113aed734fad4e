"""The websocket hub: bounded subscribers, topics forgotten with their last subscriber."""

from __future__ import annotations

import pytest

from reference_app.services.pubsub import Hub, HubFull
from tests.utils.memory import assert_plateau, traced_after_each


async def test_hub_refuses_subscribers_past_its_bound_and_stays_flat() -> None:
    hub = Hub(max_subscribers=100)

    async def fill(r: int) -> None:
        queues = [(f"item:{r}-{i}", hub.subscribe(f"item:{r}-{i}")) for i in range(100)]
        for _ in range(200):  # 2x more than the bound: refused, nothing kept
            with pytest.raises(HubFull):
                hub.subscribe(f"item:{r}-extra")
        assert hub.total == 100
        for topic, queue in queues:
            hub.publish(topic, {"event": "updated"})
            hub.unsubscribe(topic, queue)
        assert hub.total == 0
        assert hub.subscriber_count(f"item:{r}-0") == 0

    assert_plateau(await traced_after_each(fill))


async def test_unsubscribing_twice_counts_once() -> None:
    hub = Hub(max_subscribers=1)
    queue = hub.subscribe("t")
    hub.unsubscribe("t", queue)
    hub.unsubscribe("t", queue)
    assert hub.total == 0
    hub.subscribe("t")  # room again
