"""A minimal raw-ASGI app for tests of the harness's process handling and load driving: no framework,
so what is measured or started is the harness's side, never the app's.

``write_stub_app(directory)`` copies this file into a test's own directory and returns the
``module:factory`` that serves it from there (a server started with that directory as its cwd, as a
team's app would be). The factory reads its behaviour from the environment the server gets:

- ``STUB_MODE``: ``ok`` (default), ``crash`` (refuses to start), ``unready`` (answers 503);
- ``STUB_BODY``: a text/plain body; without it a JSON ``{"message": "hello", "path": ...}``;
- ``STUB_DELAY_MS``: wait this long before answering (so a few users can't saturate a generator).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any


def create_app() -> Any:
    mode = os.environ.get("STUB_MODE", "ok")
    if mode == "crash":
        raise SystemExit("stub: refusing to start")
    delay_s = float(os.environ.get("STUB_DELAY_MS", "0")) / 1000
    text = os.environ.get("STUB_BODY")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if delay_s:
            await asyncio.sleep(delay_s)
        if text is None:
            body, kind = json.dumps({"message": "hello", "path": scope["path"]}).encode(), b"application/json"
        else:
            body, kind = text.encode(), b"text/plain"
        await send({"type": "http.response.start", "status": 503 if mode == "unready" else 200,
                    "headers": [(b"content-type", kind), (b"x-request-id", b"r1")]})
        await send({"type": "http.response.body", "body": body})

    return app


def write_stub_app(directory: Path, module: str = "stub_app") -> str:
    """This module as ``directory/module.py``; returns ``module:create_app`` for ``ServerConfig.app``."""
    shutil.copyfile(__file__, directory / f"{module}.py")
    return f"{module}:create_app"
