"""Item websocket: token auth with a uniform 1008, echo, broadcasts, size bound, connection gauge.

Driven in-process with asgiref's ApplicationCommunicator: starlette's TestClient warns (httpx is
deprecated there in favour of httpx2) and warnings are errors in this suite.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.testing import ApplicationCommunicator
from fastapi import FastAPI

from tests.utils.app_fixtures import metric_value
from tests.utils.factories import UserHandle, bearer, create_user, login

#: A hang guard, not a measurement: every awaited message is normally there within milliseconds, but
#: the suite runs under coverage on a shared machine, so the guard is generous.
WAIT_S = 30


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class WsClient:
    """Just enough of a websocket client for an ASGI app in the same event loop."""

    def __init__(self, app: FastAPI, path: str, query: str = "") -> None:
        scope = {
            "type": "websocket", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "scheme": "ws", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query.encode(), "headers": [(b"host", b"test")], "subprotocols": [],
            "client": ("127.0.0.1", 50000), "server": ("test", 80),
        }
        self.comm = ApplicationCommunicator(app, scope)

    async def connect(self) -> None:
        await self.comm.send_input({"type": "websocket.connect"})
        message = await self.comm.receive_output(timeout=WAIT_S)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000))
        assert message["type"] == "websocket.accept", message

    async def send_text(self, text: str) -> None:
        await self.comm.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.comm.send_input({"type": "websocket.receive", "bytes": data})

    async def receive_json(self) -> Any:
        message = await self.comm.receive_output(timeout=WAIT_S)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000))
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def disconnect(self) -> None:
        await self.comm.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.comm.wait(timeout=WAIT_S)


def item_socket(app: FastAPI, item_id: int | str, token: str | None) -> WsClient:
    return WsClient(app, f"/api/v1/ws/items/{item_id}", "" if token is None else f"token={token}")


async def open_ws(app: FastAPI, item_id: int | str, token: str | None) -> WsClient:
    ws = item_socket(app, item_id, token)
    await ws.connect()
    return ws


async def refused_code(app: FastAPI, item_id: int | str, token: str | None) -> int:
    """The close code of a refused socket, whether it closes before or right after accepting."""
    ws = item_socket(app, item_id, token)

    async def first_message() -> None:
        await ws.connect()
        await ws.receive_json()

    with pytest.raises(Closed) as closed:
        await first_message()
    await ws.comm.wait(timeout=WAIT_S)
    return closed.value.code


async def new_item(client: httpx.AsyncClient, token: str, name: str = "lamp") -> int:
    response = await client.post("/api/v1/items", headers=bearer(token),
                                 json={"name": name, "category": "home", "price": 12.5})
    assert response.status_code == 201, response.text
    item_id: int = response.json()["id"]
    return item_id


@pytest.fixture
def token(user: UserHandle) -> str:
    return user.access_token


def gauge(app: FastAPI) -> float:
    return metric_value(app, "websocket_connections")


async def test_echo_and_gauge(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    item_id = await new_item(client, token)
    ws = await open_ws(app, item_id, token)
    await ws.send_text("hello")
    assert await ws.receive_json() == {"echo": "hello"}
    assert gauge(app) == 1
    assert app.state.hub.subscriber_count(f"item:{item_id}") == 1
    await ws.disconnect()
    assert gauge(app) == 0
    assert app.state.hub.subscriber_count(f"item:{item_id}") == 0


async def test_update_is_broadcast(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    item_id = await new_item(client, token)
    ws = await open_ws(app, item_id, token)
    etag = (await client.get(f"/api/v1/items/{item_id}", headers=bearer(token))).headers["etag"]
    updated = await client.put(f"/api/v1/items/{item_id}", headers=bearer(token) | {"If-Match": etag},
                               json={"name": "lamp", "category": "home", "price": 20})
    assert updated.status_code == 200, updated.text
    event = await ws.receive_json()
    assert event["event"] == "item.updated"
    assert event["item"]["price"] == 20
    assert event["item"]["version"] == 2
    await ws.disconnect()


async def test_hub_publish_is_forwarded(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    item_id = await new_item(client, token)
    ws = await open_ws(app, item_id, token)
    assert app.state.hub.publish(f"item:{item_id}", {"event": "custom", "n": 1}) == 1
    assert app.state.hub.publish(f"item:{item_id + 1}", {"event": "elsewhere"}) == 0
    assert await ws.receive_json() == {"event": "custom", "n": 1}
    await ws.disconnect()


async def test_delete_sends_event_then_closes(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    item_id = await new_item(client, token)
    ws = await open_ws(app, item_id, token)
    assert (await client.delete(f"/api/v1/items/{item_id}", headers=bearer(token))).status_code == 204
    assert (await ws.receive_json())["event"] == "item.deleted"
    with pytest.raises(Closed) as closed:
        await ws.receive_json()
    assert closed.value.code == 1000


@pytest.mark.parametrize("bad", [None, "", "garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
async def test_bad_token_closes_1008(client: httpx.AsyncClient, app: FastAPI, token: str, bad: str | None) -> None:
    item_id = await new_item(client, token)
    assert await refused_code(app, item_id, bad) == 1008
    assert gauge(app) == 0


async def test_refresh_token_is_refused(
    client: httpx.AsyncClient, app: FastAPI, user: UserHandle, token: str
) -> None:
    item_id = await new_item(client, token)
    pair = await login(client, email=user.email, password=user.password)
    assert await refused_code(app, item_id, pair.refresh_token) == 1008


async def test_other_users_item_and_missing_item_look_the_same(
    client: httpx.AsyncClient, app: FastAPI, token: str
) -> None:
    bob = (await create_user(client)).access_token
    item_id = await new_item(client, token)
    assert await refused_code(app, item_id, bob) == 1008
    assert await refused_code(app, 999_999, bob) == 1008
    assert await refused_code(app, "not-an-int", token) == 1008
    assert app.state.hub.subscriber_count(f"item:{item_id}") == 0


async def test_oversized_message_closes_1009(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    ws = await open_ws(app, await new_item(client, token), token)
    await ws.send_text("é" * 2049)  # 4098 bytes in UTF-8, under 4096 characters
    with pytest.raises(Closed) as closed:
        await ws.receive_json()
    assert closed.value.code == 1009
    await ws.comm.wait(timeout=WAIT_S)
    assert gauge(app) == 0


async def test_binary_frames_close_1003(client: httpx.AsyncClient, app: FastAPI, token: str) -> None:
    ws = await open_ws(app, await new_item(client, token), token)
    await ws.send_bytes(b"\x00\x01")
    with pytest.raises(Closed) as closed:
        await ws.receive_json()
    assert closed.value.code == 1003
