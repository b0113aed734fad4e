"""Endpoints for load profiles. Each isolates one cost so an A/B arm measures only that cost."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from reference_app.core.errors import problem_responses
from reference_app.core.ratelimit import by_client_ip, limit_dependency

router = APIRouter(prefix="/lab", tags=["lab"])
MAX_SLEEP_MS = 2000
Millis = Annotated[int, Query(ge=0, le=MAX_SLEEP_MS, description="Simulated I/O latency in milliseconds.")]


class Message(BaseModel):
    message: str


class Slept(BaseModel):
    slept_ms: int
    mode: str


class Digest(BaseModel):
    rounds: int
    digest: str


class LimitInfo(BaseModel):
    amount: int
    per_seconds: int


class LabConfig(BaseModel):
    threadpool_size: int
    lab_limit: LimitInfo
    rate_limit_enabled: bool
    cache_backend: str
    limiter_backend: str
    db_backend: str
    middleware: str


@router.get("/hello", operation_id="lab_hello", response_model=Message)
async def hello() -> Message:
    return Message(message="hello")


# The schema is declared for the contract, but not as ``response_model``: FastAPI validates a def
# route's response model in the thread pool too, so every request would queue for it twice, and the
# pool's FIFO would then release responses in convoys (all of the waiting first passes complete
# before any second one; 200 users on 40 threads: ~200 responses at once, every second). The convoy
# is real FastAPI behaviour (docs/load.md), but it makes throughput over short rounds swing between 0
# and 2x; this route isolates what the io experiment compares, the thread pool's cap.
@router.get("/io-sync", operation_id="lab_io_sync", response_model=None,
            responses={200: {"model": Slept, "description": "Successful Response"}, **problem_responses(422)})
def io_sync(ms: Millis = 50) -> Slept:
    # A `def` route runs in the thread pool: concurrency is capped by its size, which is the point.
    time.sleep(ms / 1000)
    return Slept(slept_ms=ms, mode="sync")


@router.get("/io-async", operation_id="lab_io_async", response_model=Slept, responses=problem_responses(422))
async def io_async(ms: Millis = 50) -> Slept:
    await asyncio.sleep(ms / 1000)
    return Slept(slept_ms=ms, mode="async")


@router.get("/cpu", operation_id="lab_cpu", response_model=Digest, responses=problem_responses(422))
async def cpu(n: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> Digest:
    digest = b"refapp"
    for _ in range(n):
        digest = hashlib.sha256(digest).digest()
    return Digest(rounds=n, digest=digest.hex())


@router.get(
    "/limited",
    operation_id="lab_limited",
    response_model=Message,
    dependencies=[Depends(limit_dependency("lab", "lab_limit", by_client_ip))],
    responses=problem_responses(429, 503),
)
async def limited() -> Message:
    return Message(message="hello")


@router.get("/unlimited", operation_id="lab_unlimited", response_model=Message)
async def unlimited() -> Message:
    """The limited operation's twin without the limiter, for measuring the limiter's own cost."""
    return Message(message="hello")


@router.get("/config", operation_id="lab_config", response_model=LabConfig)
async def config(request: Request) -> LabConfig:
    """What the load runner needs to compute theoretical bounds, read from the running app."""
    settings = request.app.state.settings
    limit = request.app.state.limiter.limits["lab_limit"]
    return LabConfig(
        threadpool_size=settings.threadpool_size,
        lab_limit=LimitInfo(amount=limit.amount, per_seconds=limit.get_expiry()),
        rate_limit_enabled=settings.rate_limit_enabled,
        cache_backend=request.app.state.cache.backend,
        limiter_backend=request.app.state.limiter.backend,
        db_backend=request.app.state.engine.url.get_backend_name(),
        middleware=settings.middleware,
    )
