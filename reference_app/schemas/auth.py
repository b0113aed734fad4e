from __future__ import annotations

from typing import Literal

from pydantic import Field

from reference_app.schemas.common import Email, InputModel, OutputModel


class LoginForm(InputModel):
    """RFC 6749 §4.3 password grant. Our own model rather than OAuth2PasswordRequestForm, so the
    contract states what is enforced: non-empty credentials, grant_type exactly "password"."""

    grant_type: Literal["password"] = "password"
    username: str = Field(min_length=1, max_length=320, description="The account's email address.")
    password: str = Field(min_length=1, max_length=128)
    scope: str = Field(default="", max_length=200)


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
    email: Email


class Accepted(OutputModel):
    status: Literal["accepted"] = "accepted"


class WhoAmI(OutputModel):
    kind: Literal["user", "api_key", "client"]
    subject: str
    scopes: list[str]
