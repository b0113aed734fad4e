from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from reference_app.schemas.common import DbId, InputModel, OutputModel, Price, PriceQuery

Category = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MAX_PAGE = 100
ItemId = DbId


class ItemCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "claw hammer", "description": "16 oz, fibreglass handle", "category": "tools", "price": 24.5},
    ]})

    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    category: Category
    price: Price


class ItemReplace(ItemCreate):
    """PUT replaces the client-editable fields; id, owner and version are the server's."""


class ItemPublic(OutputModel):
    id: int
    name: str
    description: str | None
    category: str
    price: Price
    owner_id: int
    version: int
    created_at: datetime
    updated_at: datetime


class ItemFilter(InputModel):
    """Query parameters of the list operation, as one validated model."""

    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    category: Category | None = None
    min_price: PriceQuery | None = None
    max_price: PriceQuery | None = None
    sort: Literal["price", "name", "id"] = "id"
    order: Literal["asc", "desc"] = "asc"



class ItemPage(OutputModel):
    items: list[ItemPublic]
    total: int
    limit: int
    offset: int
