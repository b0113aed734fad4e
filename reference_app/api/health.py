"""Liveness (the process answers) and readiness (its dependencies answer)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

router = APIRouter(prefix="/health", tags=["health"])
CHECK_TIMEOUT_S = 2.0


class Live(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "failed"]]


@router.get("/live", operation_id="health_live", response_model=Live)
async def live() -> Live:
    return Live()


async def _db_ok(request: Request) -> bool:
    try:
        async with request.app.state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), CHECK_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - any failure is "not ready"; the reason goes to logs via SQLAlchemy
        return False
    return True


@router.get(
    "/ready",
    operation_id="health_ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "A dependency is down."}},
)
async def ready(request: Request) -> JSONResponse:
    results: list[object] = await asyncio.gather(
        _db_ok(request),
        asyncio.wait_for(request.app.state.cache.ping(), CHECK_TIMEOUT_S),
        asyncio.wait_for(request.app.state.limiter.ping(), CHECK_TIMEOUT_S),
        return_exceptions=True,
    )
    names = ("database", "cache", "rate_limiter")
    checks: dict[str, Literal["ok", "failed"]] = {
        name: "ok" if result is True else "failed" for name, result in zip(names, results, strict=True)
    }
    healthy = all(v == "ok" for v in checks.values())
    body = Ready(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
