"""Settings of the pricing downstream (prefix ``PRICING_``). Faults start from here and can be
switched at run time with ``POST /_faults``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PricingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRICING_", env_file=None, extra="ignore", frozen=True)

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    markup: float = Field(default=1.2, gt=0, le=100)  # quoted = base * markup
    seed: int = 0  # seeds the error_rate RNG, so a flaky run is reproducible
    log_level: str = "INFO"
    log_requests: bool = True  # one JSON line per price request (request id, traceparent)
    admin_token: str | None = None  # when set, /_faults and /_stats need X-Admin-Token

    # Initial faults (see FaultConfig in app.py).
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    outage: bool = False
    oversized: bool = False
    invalid: bool = False
    redirect_to: str | None = None
