"""Contract layer: schemathesis drives the app in-process with the committed contract as the schema.

Loading the committed file (not the app's live /openapi.json) is the point: the suite proves the
implementation conforms to what clients were promised.

The schema is loaded eagerly at import (``@schema.parametrize``) because schemathesis 4.32's lazy
``from_fixture`` loader reads ``Item._nodeid``, which pytest 9 removed.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.python.asgi import get_client, shutdown_lifespans

from harness.server import ServerConfig, ServerProcess
from reference_app.main import create_app
from tests.utils.app_fixtures import build_test_settings

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contracts" / "openapi.json"
CONFIG = ROOT / "contracts" / "schemathesis.toml"
EMAIL, PASSWORD = "contract@example.com", "contract-password-1"
#: The app's calls to the real pricing process: generous, because a timeout is not what the contract
#: suite tests, and a quote that took 1 s on a loaded CI machine (the default read timeout) would be a
#: 503 that ``not_a_server_error`` counts as a failure. Also given to ``harness contract fuzz``.
PRICING_TIMEOUTS = {
    "pricing_connect_timeout_s": 5.0,
    "pricing_read_timeout_s": 10.0,
    "pricing_write_timeout_s": 10.0,
    "pricing_pool_timeout_s": 5.0,
    "pricing_total_timeout_s": 20.0,
}


@dataclass
class Credentials:
    token: str
    api_key: str


@dataclass
class CaseTally:
    """What the suite exercised, so a test can assert the budget was really spent."""

    cases: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    stateful_steps: int = 0
    stateful_scenarios: int = 0


def _start_pricing(base: Path) -> str:
    """A real pricing downstream, so items_quote answers 200 instead of its documented
    "not configured" 503, which schemathesis' not_a_server_error rightly counts as a failure."""
    stack = ExitStack()
    atexit.register(stack.close)
    config = ServerConfig(
        app="reference_app.downstream.app:create_pricing_app", migrate_cmd=None, ready_path="/health",
        env={"PRICING_SEED": "7"}, ready_timeout_s=60.0,
    )
    proc = stack.enter_context(ServerProcess(config, log_path=base / "pricing.log"))
    return proc.base_url


def _bootstrap() -> tuple[FastAPI, Credentials]:
    """Build the app and its credentials at import: schemathesis' coverage phase generates (and
    authenticates) cases during collection, before any fixture could run."""
    base = Path(tempfile.mkdtemp(prefix="contract-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    pricing_url = _start_pricing(base)
    # A file database: schemathesis runs its own lifespan and must see the user created here.
    # The limiter is off so that a 429 never hides a real failure behind "rate limited".
    settings = build_test_settings(
        base, database_url=f"sqlite+aiosqlite:///{base / 'contract.db'}", rate_limit_enabled=False,
        pricing_url=pricing_url, **PRICING_TIMEOUTS,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        created = client.post("/api/v1/users", json={"email": EMAIL, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = client.post("/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        key = client.post("/api/v1/api-keys", json={"name": "contract", "scopes": ["read", "write"]}, headers=headers)
        assert key.status_code == 201, key.text
    return app, Credentials(token["access_token"], key.json()["key"])


APP, CREDENTIALS = _bootstrap()
TALLY = CaseTally()


@pytest.fixture(scope="session")
def contract_app() -> Iterator[FastAPI]:
    """The app, with schemathesis' in-process transport already running its lifespan.

    schemathesis runs every ASGI app on one event-loop thread of its own (plus an AnyIO worker),
    started on first use and kept until interpreter exit. Starting it here makes those threads the
    session's, not the first case's (the suite's leak check, tests/utils/leaks.py, would rightly
    blame that case), and stopping the lifespan here ends the app's database and pricing client
    with the session instead of at exit.
    """
    with get_client(APP) as client:
        assert client.get("/health/live").status_code == 200
    yield APP
    shutdown_lifespans()
