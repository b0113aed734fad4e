"""Quotes for an item: live from the pricing downstream, else the last good quote (stale), else an error.

The last good quote is kept in the app cache under ``{prefix}:quote:{item_id}:{version}``: a new
item version (e.g. a price change) never gets an old version's quote, stale or not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from reference_app.core.cache import Cache
from reference_app.core.errors import AppError, BadGateway, ServiceUnavailable
from reference_app.schemas.items import ItemPublic
from reference_app.schemas.items_v2 import Money
from reference_app.schemas.pricing import QuoteResponse
from reference_app.services.pricing_client import PricingClient, PricingError

STALE_HEADERS = {"X-Served-Stale": "true", "Warning": '110 - "Response is Stale"'}


def quote_key(prefix: str, item: ItemPublic) -> str:
    return f"{prefix}:quote:{item.id}:{item.version}"


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=f"{amount:.2f}", currency=currency)


async def quote_item(
    pricing: PricingClient, cache: Cache, prefix: str, ttl_s: int, item: ItemPublic,
    trace_headers: Mapping[str, str] | None,
) -> tuple[QuoteResponse, bool]:
    """(quote, stale). Raises a problem (503 / 502) when pricing fails and nothing good is cached."""
    key = quote_key(prefix, item)
    try:
        price = await pricing.get_price(item.id, item.price, trace_headers=trace_headers)
    except PricingError as exc:
        raw = await cache.get(key)
        if raw is not None:
            try:
                cached = QuoteResponse.model_validate_json(raw)
            except ValueError:
                cached = None
            if cached is not None and cached.item_id == item.id:
                return cached.model_copy(update={"source": "stale"}), True
        raise to_problem(exc) from None
    quote = QuoteResponse(
        item_id=item.id, base_price=_money(item.price, price.currency),
        quoted_price=_money(price.amount, price.currency), as_of=price.as_of, source="live",
    )
    await cache.set(key, quote.model_dump_json().encode(), ttl_s)
    return quote, False


def to_problem(exc: PricingError) -> AppError:
    if exc.status == 502:
        return BadGateway(exc.detail)
    headers = {} if exc.retry_after_s is None else {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return ServiceUnavailable(exc.detail, headers=headers)
