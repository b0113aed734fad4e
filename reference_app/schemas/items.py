from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from fastapi import Path
from pydantic import Field, PlainSerializer, model_validator

from reference_app.schemas.common import InputModel, OutputModel

# Prices travel as JSON numbers with two decimals; Decimal inside so money arithmetic is exact.
Price = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000"), max_digits=9, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Category = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MAX_PAGE = 100
# Bounded so a huge id is a 422, not an integer overflow inside the database driver.
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ItemCreate(InputModel):
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
    min_price: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000"))
    max_price: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000"))
    sort: Literal["price", "name", "id"] = "id"
    order: Literal["asc", "desc"] = "asc"

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price must not exceed max_price")
        return self


class ItemPage(OutputModel):
    items: list[ItemPublic]
    total: int
    limit: int
    offset: int
