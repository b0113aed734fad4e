"""A real pricing process (uvicorn on 127.0.0.1, free port) and reference apps that call it.

The pricing service is started once per module by ``harness.server.ServerProcess``; every test
starts from a clean slate (no faults, zeroed counters). The reference app runs in-process with
``REFAPP_PRICING_URL`` pointing at the real process, so every outbound call crosses a socket.
Timeouts are small so the whole directory runs in seconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from harness.server import ServerConfig, ServerProcess
from reference_app.core.config import Settings
from reference_app.main import create_app
from tests.utils.factories import UserHandle, create_item, create_user

#: Policy used by most tests; they override what they exercise. The timeouts are generous on
#: purpose: the in-process app runs under coverage on a shared 2-core machine, and a test that is not
#: about timeouts must not fail because one call took 700 ms (it did, in CI). Tests that exercise a
#: timeout use TIGHT_TIMEOUTS against an injected latency many times larger.
FAST_POLICY: dict[str, Any] = {
    "pricing_connect_timeout_s": 2.0,
    "pricing_read_timeout_s": 2.0,
    "pricing_write_timeout_s": 2.0,
    "pricing_pool_timeout_s": 2.0,
    "pricing_total_timeout_s": 4.0,
    "pricing_max_attempts": 3,
    "pricing_backoff_initial_s": 0.01,
    "pricing_backoff_max_s": 0.05,
    "pricing_breaker_threshold": 3,
    "pricing_breaker_reset_s": 0.6,
    "pricing_bulkhead_size": 10,
    "pricing_bulkhead_wait_s": 0.02,
}

#: For the timeout tests only: a cut-off far below the injected latency (SLOW_LATENCY_S).
TIGHT_TIMEOUTS: dict[str, Any] = {
    "pricing_read_timeout_s": 0.3,
    "pricing_total_timeout_s": 0.8,
}
SLOW_LATENCY_S = 6.0


@dataclass
class PricingService:
    proc: ServerProcess

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=5.0, trust_env=False)

    def set_faults(self, **faults: Any) -> None:
        with self._http() as c:
            c.post("/_faults", json=faults).raise_for_status()

    def stats(self) -> dict[str, int]:
        with self._http() as c:
            r = c.get("/_stats")
            r.raise_for_status()
            body: dict[str, int] = r.json()
            return body

    def calls(self) -> int:
        return self.stats()["calls"]

    def reset(self) -> None:
        self.set_faults()
        with self._http() as c:
            c.post("/_stats/reset").raise_for_status()

    def log_records(self) -> list[dict[str, Any]]:
        """The service's JSON log lines (uvicorn's own plain-text lines are skipped)."""
        records = []
        for line in self.proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records


@pytest.fixture(scope="module")
def pricing_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PricingService]:
    log_path = tmp_path_factory.mktemp("pricing") / "pricing.log"
    config = ServerConfig(
        app="reference_app.downstream.app:create_pricing_app", migrate_cmd=None, ready_path="/health",
        env={"PRICING_SEED": "42", "PRICING_LOG_LEVEL": "INFO"}, ready_timeout_s=30.0,
    )
    with ServerProcess(config, log_path=log_path) as proc:
        yield PricingService(proc)


@pytest.fixture
def pricing(pricing_process: PricingService) -> PricingService:
    pricing_process.reset()
    return pricing_process


@dataclass
class QuoteEnv:
    app: FastAPI
    client: httpx.AsyncClient
    user: UserHandle
    item: dict[str, Any]

    async def quote(self, item_id: int | None = None, **headers: str) -> httpx.Response:
        return await self.client.get(f"/api/v1/items/{item_id or self.item['id']}/quote",
                                     headers={**self.user.headers, **headers})


QuoteEnvFactory = Callable[..., Any]


@pytest.fixture
def quote_env(tmp_path: Path, pricing: PricingService,
              make_settings: Callable[..., Settings]) -> QuoteEnvFactory:
    """``async with quote_env(**settings_overrides) as env``: an app wired to the real pricing process."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[QuoteEnv]:
        settings = make_settings(**{"pricing_url": pricing.base_url, **FAST_POLICY, **overrides})
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                user = await create_user(client)
                item = await create_item(client, user, price=12.5)
                yield QuoteEnv(app, client, user, item)

    return factory
