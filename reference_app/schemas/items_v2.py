"""v2 item shape: money as a string amount plus currency, owner as an object, hypermedia links."""

from __future__ import annotations

from pydantic import BaseModel


class Money(BaseModel):
    amount: str
    currency: str


class OwnerRef(BaseModel):
    id: int


class ItemLinks(BaseModel):
    self: str


class ItemV2(BaseModel):
    id: int
    name: str
    description: str | None
    category: str
    price: Money
    owner: OwnerRef
    version: int
    links: ItemLinks
