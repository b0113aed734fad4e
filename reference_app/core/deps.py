"""Request-scoped dependencies as ``Annotated`` aliases that validate: they load or they raise.

A principal is a user (bearer access token), a user acting through an API key (scoped), or a
service client (client-credentials token). Routes say which they accept by the alias they use.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from reference_app.core.config import Settings
from reference_app.core.db import SessionDep
from reference_app.core.errors import Forbidden, Unauthorized
from reference_app.core.ratelimit import LimitName, apply_limit
from reference_app.core.security import InvalidToken, PasswordHasher, TokenService, hash_api_key
from reference_app.models import ApiKey, Role, User

log = logging.getLogger("refapp.auth")

# HTTP bearer rather than an OAuth2 scheme: the same JWT comes from two flows (password and client
# credentials), and tools that probe auth (schemathesis' ignored_auth) know how to strip a bearer header.
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="BearerAuth", bearerFormat="JWT",
    description="Access token from POST /api/v1/auth/token (password) or /api/v1/auth/client-token.",
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["user", "api_key", "client"]
    subject: str
    scopes: tuple[str, ...]
    user: User | None = None
    api_key_id: int | None = None

    @property
    def rate_key(self) -> str:
        return f"key:{self.api_key_id}" if self.kind == "api_key" else f"{self.kind}:{self.subject}"


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


async def _principal_from_key(session: SessionDep, api_key: str) -> Principal:
    row = (await session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == hash_api_key(api_key))
    )).first()
    if row is None:
        raise Unauthorized("Invalid API key.")
    key, user = row  # a Row unpacks like a tuple (Row.tuple() is deprecated in SQLAlchemy 2.x)
    if key.revoked_at is not None or not user.is_active:
        raise Unauthorized("Invalid API key.")
    return Principal("api_key", str(user.id), tuple(key.scopes.split()), user=user, api_key_id=key.id)


async def get_principal(
    request: Request,
    session: SessionDep,
    tokens: TokensDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    token = bearer.credentials if bearer is not None else None
    if api_key:
        principal = await _principal_from_key(session, api_key)
    elif token:
        try:
            claims = tokens.decode(token, "access")
        except InvalidToken as exc:
            log.info("token rejected", extra={"reason": str(exc)})
            raise Unauthorized("Invalid or expired token.") from exc
        if claims.subject.startswith("client:"):
            principal = Principal("client", claims.subject.removeprefix("client:"), claims.scopes)
        else:
            user = await session.get(User, int(claims.subject)) if claims.subject.isdigit() else None
            if user is None or not user.is_active:
                raise Unauthorized("Invalid or expired token.")
            principal = Principal("user", str(user.id), ("read", "write"), user=user)
    else:
        raise Unauthorized("Not authenticated.")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_user(request: Request, principal: PrincipalDep) -> User:
    """A user, directly or through an API key whose scope covers this method."""
    if principal.user is None:
        raise Forbidden("This operation needs a user, not a service client.")
    needed = "read" if request.method in SAFE_METHODS else "write"
    if needed not in principal.scopes:
        raise Forbidden(f"The credential lacks the '{needed}' scope.")
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Administrators only.")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_bearer_user(principal: PrincipalDep) -> User:
    """A user signed in with a token: managing API keys with an API key would let a leaked key persist."""
    if principal.kind != "user" or principal.user is None:
        raise Forbidden("Sign in with a user token for this operation.")
    return principal.user


BearerUser = Annotated[User, Depends(get_bearer_user)]


def principal_limit(scope: str, setting: LimitName) -> Callable[..., Awaitable[None]]:
    """Rate limit keyed by the authenticated principal (user or API key), so buckets are per caller."""

    async def enforce(request: Request, response: Response, principal: PrincipalDep) -> None:
        await apply_limit(request, response, scope, setting, principal.rate_key)

    return enforce
