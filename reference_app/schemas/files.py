from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from reference_app.schemas.common import OutputModel

Disposition = Literal["attachment", "inline"]


class FileMeta(OutputModel):
    id: str = Field(pattern=r"^[0-9a-f]{32}$", examples=["9f1c2b7e4d5a4c3b8e6f0a1b2c3d4e5f"])
    filename: str = Field(description="The client's name, sanitized; metadata only, never a storage path.")
    content_type: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: datetime


class CsvRowError(BaseModel):
    row: int = Field(ge=1, description="1-based line of the record in the file; the header is row 1.")
    errors: list[str]


class CsvImportResult(BaseModel):
    created: int = Field(ge=0)
    errors: list[CsvRowError]
