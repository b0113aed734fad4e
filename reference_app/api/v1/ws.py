"""Live updates of one item over a websocket.

Browsers cannot set headers on a websocket handshake, hence the access token in ``?token=``.
Every refusal (bad token, unknown item, someone else's item) is the same close code 1008 with
the same reason, so the socket can't be used to probe which item ids exist. The handshake is
accepted before closing so that every client, not only ASGI test clients, sees the 1008.

The database is used for the check only: a long-lived socket must not pin a pooled connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketState

from reference_app.core.security import InvalidToken, TokenService
from reference_app.core.telemetry import Metrics
from reference_app.models import Item, User
from reference_app.schemas.common import MAX_DB_ID
from reference_app.services.pubsub import Hub, HubFull

router = APIRouter(prefix="/ws", tags=["items"])
log = logging.getLogger("refapp.ws")

MAX_MESSAGE_BYTES = 4096
_REFUSED = "not authorized for this item"


async def _authorize(websocket: WebSocket, item_id: int, token: str | None) -> float | None:
    """The token's expiry (epoch seconds) if it may watch ``item_id``, else None."""
    if not token or not 1 <= item_id <= MAX_DB_ID:
        return None  # an id no row can have would overflow the driver; refuse like any unknown item
    tokens: TokenService = websocket.app.state.tokens
    try:
        claims = tokens.decode(token, "access")
    except InvalidToken as exc:
        log.info("ws token rejected", extra={"reason": str(exc)})
        return None
    if not claims.subject.isdigit():
        return None  # service-client tokens carry no user and own no items
    maker: async_sessionmaker[AsyncSession] = websocket.app.state.sessionmaker
    async with maker() as session:
        user = await session.get(User, int(claims.subject))
        if user is None or not user.is_active:
            return None
        item = await session.get(Item, item_id)
        if item is None or item.owner_id != user.id:
            return None
    return float(claims.expires_at)


async def _send(websocket: WebSocket, lock: anyio.Lock, payload: dict[str, Any]) -> None:
    # Two tasks write to this socket; one frame must go out whole before the next starts.
    async with lock:
        await websocket.send_text(json.dumps(payload, separators=(",", ":"), default=str))


async def _forward(
    websocket: WebSocket, lock: anyio.Lock, queue: asyncio.Queue[dict[str, Any]], done: anyio.CancelScope
) -> None:
    try:
        while True:
            event = await queue.get()
            await _send(websocket, lock, event)
            if event.get("event") == "item.deleted":
                await websocket.close(code=status.WS_1000_NORMAL_CLOSURE, reason="item deleted")
                break
    except WebSocketDisconnect:
        pass  # the client left mid-send; the other task sees it too
    done.cancel()


async def _echo(websocket: WebSocket, lock: anyio.Lock, done: anyio.CancelScope) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA, reason="text frames only")
                break
            # The server has already buffered the frame; this bounds what we parse, echo and log.
            if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
                await websocket.close(code=status.WS_1009_MESSAGE_TOO_BIG, reason="message too big")
                break
            await _send(websocket, lock, {"echo": text})
    except WebSocketDisconnect:
        pass
    done.cancel()


@router.websocket("/items/{item_id}", name="ws_item_updates")
async def item_updates(websocket: WebSocket, item_id: int, token: str | None = None) -> None:
    expires_at = await _authorize(websocket, item_id, token)
    await websocket.accept()
    if expires_at is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=_REFUSED)
        return
    hub: Hub = websocket.app.state.hub
    metrics: Metrics | None = websocket.app.state.metrics
    topic = f"item:{item_id}"
    try:
        queue = hub.subscribe(topic)
    except HubFull:
        await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason="too many subscribers")
        return
    if metrics is not None:
        metrics.ws_connections.inc()
    lock = anyio.Lock()
    try:
        # The token's lifetime is the socket's: an expired credential must not keep receiving.
        with anyio.move_on_after(max(0.0, expires_at - time.time())) as deadline:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_forward, websocket, lock, queue, tg.cancel_scope)
                tg.start_soon(_echo, websocket, lock, tg.cancel_scope)
        if deadline.cancelled_caught and websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="token expired")
    finally:
        hub.unsubscribe(topic, queue)
        if metrics is not None:
            metrics.ws_connections.dec()
