"""/docs and /redoc in a real, offline browser: headless Chromium renders the operations.

This machine has no route to a CDN, like the air-gapped deployments the project supports; with
FastAPI's default CDN links both pages stayed blank (no operation in the DOM).
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from reference_app.main import create_app
from tests.utils.browser import find_or_install_chromium, run_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_or_install_chromium()


@pytest.fixture
def live_url(make_settings: Callable[..., Any], tmp_path: Path) -> Iterator[str]:
    app = create_app(make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/docs.db"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):  # bounded: 400 polls, each after a short sleep
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _rendered(chromium: Path, url: str, profile: Path) -> str:
    # A virtual-time budget lets the page's scripts fetch /openapi.json and render before the dump.
    return run_chromium(chromium, "--virtual-time-budget=20000", "--dump-dom", url, profile_dir=profile).stdout


def test_swagger_ui_renders_operations_and_offers_both_oauth2_flows(
    chromium: Path, live_url: str, tmp_path: Path
) -> None:
    page = httpx.get(f"{live_url}/docs").text
    assert "cdn.jsdelivr.net" not in page
    assert "/docs-static/swagger-ui-bundle.js" in page
    dom = _rendered(chromium, f"{live_url}/docs", tmp_path / "profile")
    for operation_id in ("items_read_cached", "auth_login", "files_download"):
        assert 'id="operations-' in dom, "no operation rendered"
        assert f"-{operation_id}\"" in dom, f"{operation_id} not rendered"
    assert "btn authorize" in dom  # security schemes were understood: the Authorize button is drawn


def test_redoc_renders_operations(chromium: Path, live_url: str, tmp_path: Path) -> None:
    page = httpx.get(f"{live_url}/redoc").text
    assert "cdn.jsdelivr.net" not in page
    assert "fonts.googleapis.com" not in page
    dom = _rendered(chromium, f"{live_url}/redoc", tmp_path / "profile")
    assert "operation/items_read_cached" in dom
    assert "operation/auth_login" in dom


def test_the_token_endpoints_take_what_swagger_ui_sends(live_url: str, settings: Any) -> None:
    """Authorize posts the password grant with an empty HTTP Basic client (``Og==``) and the client
    credentials grant with the client in HTTP Basic (RFC 6749 §2.3.1): both must yield a token."""
    httpx.post(f"{live_url}/api/v1/users", json={"email": "swagger@example.com", "password": "password-123456"})
    login = httpx.post(f"{live_url}/api/v1/auth/token", headers={"Authorization": "Basic Og=="},
                       data={"grant_type": "password", "username": "swagger@example.com",
                             "password": "password-123456", "scope": ""})
    assert login.status_code == 200, login.text
    client_id, secret, _ = settings.service_clients[0].split(":", 2)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    client = httpx.post(f"{live_url}/api/v1/auth/client-token", headers={"Authorization": f"Basic {basic}"},
                        data={"grant_type": "client_credentials", "scope": "read"})
    assert (client.status_code, client.json().get("scope")) == (200, "read"), client.text
    wrong = base64.b64encode(f"{client_id}:not-the-secret".encode()).decode()
    refused = httpx.post(f"{live_url}/api/v1/auth/client-token", headers={"Authorization": f"Basic {wrong}"},
                         data={"grant_type": "client_credentials"})
    assert refused.status_code == 401
