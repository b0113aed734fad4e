"""Graceful shutdown: SIGTERM to gunicorn while writes are in flight loses no acknowledged write.

The writes are held *inside* the database (a table lock blocks their INSERTs) until the signal
has been delivered and the server has stopped accepting connections; only then is the lock
released. So every write is provably in flight at SIGTERM, and the test can check that each one
the server acknowledged with a 2xx is in the database afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.support import PgDb, server, wait_for, wait_for_workers
from tests.utils.factories import create_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRITES = 8


def _refuses(port: int) -> bool:
    """True once nothing listens on ``port``. Only a refusal counts: a connect that merely timed out on
    a loaded machine says nothing (``wait_for`` treats that OSError as "not yet" and polls again)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


async def test_sigterm_under_in_flight_writes_keeps_every_acknowledged_write(
    pg: PgDb, live_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    env = live_env(pg, None, graceful_timeout="20")
    srv = server(tmp_path, env, kind="gunicorn", workers=2)
    with srv:
        await wait_for_workers(srv, 2)
        limits = httpx.Limits(max_connections=WRITES + 2, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=60, limits=limits, trust_env=False) as client:
            user = await create_user(client)
            blocker = await pg.connect()
            try:
                tx = blocker.transaction()
                await tx.start()
                await blocker.execute("LOCK TABLE items IN SHARE MODE")  # INSERTs wait; reads don't
                tasks = [
                    asyncio.create_task(client.post("/api/v1/items", headers=user.headers,
                                                    json={"name": f"in-flight-{n}", "category": "c", "price": n}))
                    for n in range(WRITES)
                ]

                async def all_waiting() -> bool:
                    rows = await pg.backends(exclude_pid=blocker.get_server_pid())
                    return sum(r["wait_event_type"] == "Lock" for r in rows) >= WRITES

                await wait_for(all_waiting, within=30, what=f"{WRITES} writes blocked in the database")
                os.kill(srv.pid, signal.SIGTERM)

                async def closed() -> bool:
                    return _refuses(srv.port)

                await wait_for(closed, within=15, what="the server to stop accepting connections")
                assert not any(t.done() for t in tasks), "a write finished before the lock was released"
            finally:
                await tx.rollback()
                await blocker.close()
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=60)

        async def exited() -> bool:
            return not srv.alive()

        await wait_for(exited, within=40, what="gunicorn to exit after SIGTERM")

    acknowledged = [r.json()["id"] for r in results if isinstance(r, httpx.Response) and 200 <= r.status_code < 300]
    stored = {row["id"] for row in await pg.fetch("SELECT id FROM items")}
    assert set(acknowledged) <= stored  # the guarantee: no acknowledged write is lost
    assert len(acknowledged) == WRITES, results  # and graceful means every in-flight write was finished
    assert len(stored) == WRITES
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "stopped (exit 0)" in log  # gunicorn exited cleanly on its own, not by the harness's SIGKILL
