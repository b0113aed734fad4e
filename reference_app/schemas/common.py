"""Shared schema types. Each one validates exactly what its JSON Schema advertises, because the
contract tests hold the app to the schema in both directions (valid accepted, invalid rejected).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

# Database ids in paths are bounded, so a huge id is a 422 rather than an integer overflow in the driver.
MAX_DB_ID = 2**31 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


class InputModel(BaseModel):
    """Inputs refuse unknown fields: that is what makes mass assignment impossible.

    Strings are taken as sent: stripping turned a one-character name into "" behind the schema's
    back (minLength 1), and silently changed passwords that end in a space.
    """

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# A practical mailbox syntax, stated in the schema as a pattern and nothing else: email-validator
# refused special-use domains that `format: email` allows, and `format: email` refuses dot-atoms
# the pattern allows; with the pattern alone, the promise and the check are the same thing.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
Email = Annotated[
    str,
    Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN, description="An email address."),
    AfterValidator(str.lower),
]

CENT = Decimal("0.01")
MAX_PRICE = Decimal("1000000")
_PRICE_SCHEMA = {"type": "number", "minimum": 0, "maximum": 1_000_000,
                 "description": "Amount in the item's currency; rounded to cents (half-even)."}


def _json_number_only(value: Any) -> Any:
    # Pydantic's lax Decimal also takes strings; the contract says number, so a string is a 422.
    if isinstance(value, str | bytes | bool):
        raise ValueError("must be a JSON number")
    return value


def _to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


Price = Annotated[
    Decimal,
    BeforeValidator(_json_number_only),
    Field(ge=0, le=MAX_PRICE, allow_inf_nan=False),
    AfterValidator(_to_cents),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(_PRICE_SCHEMA, mode="validation"),
]
# Query strings are text by nature; only the schema says "number" here.
PriceQuery = Annotated[
    Decimal,
    Field(ge=0, le=MAX_PRICE, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1_000_000}),
]
