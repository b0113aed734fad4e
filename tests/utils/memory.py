"""How much Python memory a bounded structure keeps as it is filled past its bound again and again."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Awaitable, Callable


async def traced_after_each(fill: Callable[[int], Awaitable[None]], rounds: int = 3) -> list[int]:
    """Traced bytes after each of ``rounds`` calls of ``fill(round)`` (each fills past the bound with new keys).

    A bounded structure plateaus: after the first fill, later ones must not add much. tracemalloc
    counts Python allocations only, which is where these structures live.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        out = []
        for r in range(rounds):
            await fill(r)
            gc.collect()
            out.append(tracemalloc.get_traced_memory()[0])
        return out
    finally:
        if started:
            tracemalloc.stop()


def assert_plateau(traced: list[int], first_fill_floor: int = 0) -> None:
    """Later fills add less than 10% of what the first one did (plus 64 KiB of interpreter noise)."""
    growth_first = traced[0]
    for before, after in itertools.pairwise(traced[1:]):
        assert after - before < 0.1 * max(growth_first, first_fill_floor) + 65536, traced
    assert traced[-1] - traced[1] < 0.1 * max(growth_first, first_fill_floor) + 65536, traced
