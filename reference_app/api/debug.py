"""``GET /debug/memory``: tracemalloc snapshot diffs, for finding what grows under a soak.

Opt-in only (``REFAPP_DEBUG_MEMORY=true``; refused in prod): tracing every allocation costs CPU and
memory of its own, and the listing names source files. Not in the OpenAPI document. Each call
compares a new snapshot with the previous call's (the first with the one taken at start-up), so
calling it once a minute during a soak shows which lines keep allocating. RSS is reported next to
the traced total: when RSS grows and the traced Python heap does not, the growth is below Python
(C extensions, the allocator's arenas), which tracemalloc cannot see.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import psutil
from fastapi import APIRouter, Request

router = APIRouter(prefix="/debug", include_in_schema=False)
FRAMES = 8
TOP = 25
MB = 2**20


def start(app_state: Any) -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(FRAMES)
    app_state.memory_snapshot = tracemalloc.take_snapshot()


@router.get("/memory")
async def memory(request: Request, top: int = TOP) -> dict[str, Any]:
    state = request.app.state
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")))
    previous, state.memory_snapshot = state.memory_snapshot, snapshot
    stats = snapshot.compare_to(previous, "lineno")
    current, peak = tracemalloc.get_traced_memory()
    return {
        "rss_mb": round(psutil.Process().memory_info().rss / MB, 1),
        "traced_mb": round(current / MB, 1), "traced_peak_mb": round(peak / MB, 1),
        "top": [{"where": str(s.traceback[0]), "size_kb": round(s.size / 1024, 1),
                 "size_diff_kb": round(s.size_diff / 1024, 1), "count_diff": s.count_diff}
                for s in stats[: max(1, min(top, 200))]],
    }
