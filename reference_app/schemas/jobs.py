from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from reference_app.models import JobStatus
from reference_app.schemas.common import InputModel, OutputModel

JobKind = Literal["item_report"]


class JobCreate(InputModel):
    kind: JobKind


class JobAccepted(OutputModel):
    id: str
    kind: JobKind
    status: JobStatus


class ItemReport(BaseModel):
    """The ``item_report`` result. Money is a decimal string: the JSON column must not round it."""

    count: int = Field(ge=0)
    total_value: str = Field(pattern=r"^\d+\.\d{2}$", examples=["1234.50"])
    by_category: dict[str, int]


class JobPublic(OutputModel):
    id: str
    kind: JobKind
    status: JobStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    #: Times the outcome was recorded: 0 until finished, then 1; more would be a job that took effect twice.
    completions: int = Field(default=0, ge=0)
