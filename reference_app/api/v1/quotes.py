"""Quotes: an item's price as the pricing downstream quotes it (a service-to-service call)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser, SettingsDep, principal_limit
from reference_app.core.errors import problem_responses
from reference_app.schemas.items import ItemId, ItemPublic
from reference_app.schemas.pricing import QuoteResponse
from reference_app.services import items as item_service
from reference_app.services import quotes as quote_service
from reference_app.services.pricing_client import PricingClient, outbound_trace_headers

router = APIRouter(prefix="/items", tags=["items"], dependencies=[Depends(principal_limit("api", "default_limit"))])

_STALE_DOC = {
    "X-Served-Stale": {"description": "`true` when the quote is the last good one (pricing is failing).",
                       "schema": {"type": "string", "enum": ["true"]}},
    "Warning": {"description": '`110 - "Response is Stale"` on a stale quote.', "schema": {"type": "string"}},
}
_503 = problem_responses(503)[503] | {
    "description": "Pricing is unavailable (not configured, timed out, circuit open, bulkhead full) "
                   "and no earlier quote is cached.",
    "headers": {"Retry-After": {"description": "Seconds until a retry may succeed.",
                                "schema": {"type": "integer"}}},
}
_502 = problem_responses(502)[502] | {
    "description": "Pricing answered with something unusable (invalid body, too large, a redirect) "
                   "and no earlier quote is cached.",
}


@router.get(
    "/{item_id}/quote",
    operation_id="items_quote",
    response_model=QuoteResponse,
    responses={200: {"headers": _STALE_DOC}, **problem_responses(401, 403, 404, 422, 429), 502: _502, 503: _503},
)
async def quote_item(
    request: Request, item_id: ItemId, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    response: Response,
) -> QuoteResponse:
    item = ItemPublic.model_validate(await item_service.get_owned(session, user.id, item_id))
    await session.close()  # return the connection to the pool before waiting on another service
    pricing: PricingClient = request.app.state.pricing
    trace_headers = None if pricing.traced else outbound_trace_headers(request.headers)
    quote, stale = await quote_service.quote_item(
        pricing, request.app.state.cache, settings.cache_key_prefix, settings.pricing_stale_ttl_s, item,
        trace_headers,
    )
    if stale:
        response.headers.update(quote_service.STALE_HEADERS)
    return quote
