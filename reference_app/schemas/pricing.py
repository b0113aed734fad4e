"""Quotes: what the pricing downstream must send us, and what we send our clients.

``DownstreamPrice`` is the trust boundary (OWASP API10, unsafe consumption of APIs): a downstream
body is parsed into it or rejected (502). Unknown fields are ignored (tolerant reader), known
fields are bounded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from reference_app.schemas.items_v2 import Money

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class DownstreamPrice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    item_id: int = Field(ge=1)
    amount: Decimal = Field(ge=0, le=Decimal("100000000"), max_digits=14, decimal_places=2)
    currency: CurrencyCode
    as_of: datetime


class QuoteResponse(BaseModel):
    item_id: int
    base_price: Money
    quoted_price: Money
    as_of: datetime
    source: Literal["live", "stale"] = Field(
        description="live: priced just now; stale: the last good quote, served while pricing is failing."
    )
