"""The opt-in tracemalloc hook: absent by default, a snapshot diff when enabled, refused in prod."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from reference_app.core.config import Settings, UnsafeSettingsError
from reference_app.main import create_app


async def test_debug_memory_is_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/debug/memory")).status_code == 404
    assert not Settings().debug_memory


async def test_debug_memory_reports_what_grew(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"debug_memory": True}))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                await client.get("/debug/memory")  # a fresh baseline
                keep = [bytearray(1000) for _ in range(2000)]  # ~2 MB that this line allocated
                body = (await client.get("/debug/memory", params={"top": 5})).json()
        assert body["rss_mb"] > 0
        assert body["traced_mb"] > 0
        assert len(body["top"]) <= 5
        assert any("test_debug_memory.py" in t["where"] and t["size_diff_kb"] > 1000 for t in body["top"]), body
        del keep
        assert "/debug/memory" not in app.openapi()["paths"]
    finally:
        tracemalloc.stop()


def test_debug_memory_is_refused_in_prod() -> None:
    s = Settings(env="prod", jwt_secret="x" * 64, debug_memory=True)
    with pytest.raises(UnsafeSettingsError, match="DEBUG_MEMORY"):
        s.check_safe()
