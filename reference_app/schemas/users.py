from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from reference_app.schemas.common import Email, InputModel, OutputModel


class UserCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"email": "ada@example.com", "password": "correct horse battery", "full_name": "Ada Lovelace"},
    ]})

    email: Email
    password: str = Field(min_length=8, max_length=128)
    full_name: str | None = Field(default=None, max_length=200)


class UserUpdate(InputModel):
    full_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=128)


class UserPublic(OutputModel):
    id: int
    email: Email
    full_name: str | None
    role: Literal["user", "admin"]
    is_active: bool
    created_at: datetime


class UserPage(OutputModel):
    items: list[UserPublic]
    total: int
    limit: int
    offset: int
