from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from reference_app.schemas.common import InputModel, OutputModel


class TokenPair(OutputModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Access-token lifetime in seconds.")


class AccessToken(OutputModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scope: str = ""


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=10, max_length=4096)


class PasswordResetRequest(InputModel):
    email: EmailStr


class Accepted(OutputModel):
    status: Literal["accepted"] = "accepted"


class WhoAmI(OutputModel):
    kind: Literal["user", "api_key", "client"]
    subject: str
    scopes: list[str]
