"""``create_pricing_app(settings)``: the pricing downstream, with faults switchable at run time.

Endpoints:

- ``GET /prices/{item_id}?base=12.50`` -> ``{item_id, amount, currency, as_of}`` (amount = base x markup)
- ``GET /health`` -> ``{"status": "ok"}`` (never subject to faults)
- ``GET|POST /_faults`` -> the fault set; a POST replaces it as a whole (missing fields = no fault)
- ``GET /_stats``, ``POST /_stats/reset`` -> how many price requests arrived, by outcome

Faults, applied in this order to every price request: ``outage`` (fast 503), ``latency_ms`` (sleep),
``error_rate`` (500 with a seeded RNG), ``redirect_to`` (307 to that URL), ``oversized`` (a valid but
huge JSON body, chunked, with no Content-Length), ``invalid`` (200 with the wrong shape).

Every price request logs one JSON line with the ``X-Request-ID`` and ``traceparent`` it received,
which is how the tests prove propagation across the two processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from reference_app.downstream.settings import PricingSettings

log = logging.getLogger("pricing")
OVERSIZED_CHUNK = b" " * 65_536
OVERSIZED_CHUNKS = 32  # 2 MiB of padding


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    outage: bool = False
    oversized: bool = False
    invalid: bool = False
    redirect_to: str | None = Field(default=None, max_length=2000)
    seed: int | None = Field(default=None, description="Re-seed the error_rate RNG (optional).")


class Price(BaseModel):
    item_id: int
    amount: str
    currency: str
    as_of: datetime


@dataclass
class PricingState:
    settings: PricingSettings
    faults: FaultConfig
    rng: random.Random
    stats: Counter[str] = field(default_factory=Counter)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "service": "pricing",
        }
        payload.update(getattr(record, "fields", {}))
        return json.dumps(payload, default=str)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def _state(request: Request) -> PricingState:
    state: PricingState = request.app.state.pricing
    return state


StateDep = Annotated[PricingState, Depends(_state)]


def _admin(state: StateDep, x_admin_token: Annotated[str | None, Header()] = None) -> None:
    token = state.settings.admin_token
    if token is not None and x_admin_token != token:
        raise HTTPException(403, "admin token required")


def _initial_faults(settings: PricingSettings) -> FaultConfig:
    return FaultConfig(latency_ms=settings.latency_ms, error_rate=settings.error_rate, outage=settings.outage,
                       oversized=settings.oversized, invalid=settings.invalid, redirect_to=settings.redirect_to)


def _trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


async def _oversized_body(item_id: int, currency: str) -> AsyncIterator[bytes]:
    head = {"item_id": item_id, "amount": "1.00", "currency": currency, "as_of": datetime.now(UTC).isoformat()}
    yield json.dumps(head)[:-1].encode() + b', "padding": "'
    for _ in range(OVERSIZED_CHUNKS):
        yield OVERSIZED_CHUNK
        await asyncio.sleep(0)
    yield b'"}'


def create_pricing_app(settings: PricingSettings | None = None) -> FastAPI:
    settings = settings or PricingSettings()
    _configure_logging(settings.log_level)
    app = FastAPI(title="pricing downstream", version="1.0.0", docs_url=None, redoc_url=None)
    app.state.pricing = PricingState(settings, _initial_faults(settings), random.Random(settings.seed))  # noqa: S311

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/prices/{item_id}", response_model=Price)
    async def price(
        request: Request,
        state: StateDep,
        item_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
        base: Annotated[Decimal | None, Query(ge=0, le=Decimal("1000000"))] = None,
    ) -> Response:
        faults = state.faults
        state.stats["calls"] += 1
        outcome = "ok"
        response: Response
        if faults.outage:
            outcome = "outage"
            response = JSONResponse({"detail": "pricing is down"}, status_code=503)
        else:
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faults.error_rate and state.rng.random() < faults.error_rate:
                outcome = "error"
                response = JSONResponse({"detail": "injected error"}, status_code=500)
            elif faults.redirect_to:
                outcome = "redirect"
                response = RedirectResponse(faults.redirect_to, status_code=307)
            elif faults.oversized:
                outcome = "oversized"
                response = StreamingResponse(_oversized_body(item_id, state.settings.currency),
                                             media_type="application/json")
            elif faults.invalid:
                outcome = "invalid"
                response = JSONResponse({"item_id": item_id, "price": "cheap"})
            else:
                base_amount = base if base is not None else Decimal(item_id % 1000) + Decimal("0.99")
                amount = (base_amount * Decimal(str(state.settings.markup))).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP)
                body = Price(item_id=item_id, amount=str(amount), currency=state.settings.currency,
                             as_of=datetime.now(UTC))
                response = JSONResponse(body.model_dump(mode="json"))
        state.stats[outcome] += 1
        if state.settings.log_requests:
            traceparent = request.headers.get("traceparent")
            log.info("price", extra={"fields": {
                "item_id": item_id, "outcome": outcome, "status": response.status_code,
                "request_id": request.headers.get("x-request-id"), "traceparent": traceparent,
                "trace_id": _trace_id(traceparent),
            }})
        return response

    @app.get("/_faults", response_model=FaultConfig, dependencies=[Depends(_admin)])
    async def read_faults(state: StateDep) -> FaultConfig:
        return state.faults

    @app.post("/_faults", response_model=FaultConfig, dependencies=[Depends(_admin)])
    async def set_faults(state: StateDep, faults: FaultConfig) -> FaultConfig:
        if faults.seed is not None:
            state.rng.seed(faults.seed)
        state.faults = faults
        log.info("faults set", extra={"fields": {"faults": faults.model_dump()}})
        return faults

    @app.get("/_stats", dependencies=[Depends(_admin)])
    async def read_stats(state: StateDep) -> dict[str, int]:
        return {"calls": 0, **state.stats}

    @app.post("/_stats/reset", dependencies=[Depends(_admin)])
    async def reset_stats(state: StateDep) -> dict[str, int]:
        state.stats.clear()
        return {"calls": 0}

    return app
