"""v2 of the item read: the response shape changed (money, owner, links); v1 is unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser, principal_limit
from reference_app.core.errors import problem_responses
from reference_app.schemas.items import ItemId
from reference_app.schemas.items_v2 import ItemLinks, ItemV2, Money, OwnerRef
from reference_app.services import items as item_service

router = APIRouter(
    prefix="/items", tags=["items"], dependencies=[Depends(principal_limit("api", "default_limit"))]
)
CURRENCY = "EUR"


@router.get(
    "/{item_id}", operation_id="items_read_v2", response_model=ItemV2,
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def read_item_v2(item_id: ItemId, user: CurrentUser, session: SessionDep) -> ItemV2:
    item = await item_service.get_owned(session, user.id, item_id)
    return ItemV2(
        id=item.id,
        name=item.name,
        description=item.description,
        category=item.category,
        price=Money(amount=f"{item.price:.2f}", currency=CURRENCY),
        owner=OwnerRef(id=item.owner_id),
        version=item.version,
        links=ItemLinks(self=f"/api/v2/items/{item.id}"),
    )
