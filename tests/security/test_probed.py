"""The bounded-time check itself (``conftest.probed``): it must catch an attack that blocks the
event loop, wherever the block falls, and forgive a stall that does not come back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.security.conftest import PROBE_FACTOR, probe_baseline, probed

#: How far past the limit the blocking attacks go, so a box that slows down between the
#: self-test's baseline and probed's own stays well short of hiding the block.
OVER_LIMIT = 4


async def _blocking_limit(client: httpx.AsyncClient) -> float:
    return OVER_LIMIT * PROBE_FACTOR * await probe_baseline(client)


async def _block_then_answer(seconds: float) -> str:
    """Yields once, so the block lands wherever the scheduler puts it (in practice while the
    prober sleeps between probes, which the probe's own latency never saw), then blocks."""
    await asyncio.sleep(0)
    time.sleep(seconds)  # noqa: ASYNC251 -- the point: a handler doing CPU or disk work on the loop
    return "done"


async def test_an_attack_that_blocks_the_loop_fails(client: httpx.AsyncClient) -> None:
    block = await _blocking_limit(client)
    with pytest.raises(AssertionError, match="stalled during the attack in every attempt"):
        await probed(client, lambda: _block_then_answer(block), attempts=2)


async def test_a_stall_in_one_attempt_is_forgiven(client: httpx.AsyncClient) -> None:
    block = await _blocking_limit(client)
    calls: list[float] = []

    def attack() -> asyncio.Future[str]:
        calls.append(block if not calls else 0.0)
        return asyncio.ensure_future(_block_then_answer(calls[-1]))

    result, report = await probed(client, attack)
    assert result == "done"
    assert calls == [block, 0.0]
    assert report.worst_s <= report.limit_s


async def test_a_clean_attack_passes_in_one_attempt(client: httpx.AsyncClient) -> None:
    calls: list[int] = []

    async def attack() -> int:
        calls.append(1)
        r = await client.get("/health/live")
        return r.status_code

    result, report = await probed(client, attack)
    assert (result, len(calls)) == (200, 1)
    assert len(report.latencies_s) >= 3
