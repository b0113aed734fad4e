"""Request-scoped dependencies as ``Annotated`` aliases that validate: they load or they raise.

A principal is a user (bearer access token), a user acting through an API key (scoped), or a
service client (client-credentials token). Routes say which they accept by the alias they use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from reference_app.core.config import Settings
from reference_app.core.db import SessionDep, open_session
from reference_app.core.errors import Forbidden, Unauthorized
from reference_app.core.principals import Principal, PrincipalCache
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
class UserRef:
    id: int
    role: str


# Every dependency is ``async def``, even these trivial getters: FastAPI runs a plain ``def``
# dependency in the thread pool, a thread hop per dependency per request (on the cached read, three
# of them cost more than the rest of the hit).
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


async def get_principal_cache(request: Request) -> PrincipalCache:
    principals: PrincipalCache = request.app.state.principals
    return principals


PrincipalCacheDep = Annotated[PrincipalCache, Depends(get_principal_cache)]


async def _principal_from_key(request: Request, principals: PrincipalCache, api_key: str) -> Principal:
    digest = hash_api_key(api_key)
    cache_key = "key:" + digest
    cached = principals.get(cache_key)
    if cached is not None:
        return cached
    async with open_session(request) as session:
        row = (await session.execute(
            select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == digest)
        )).first()
    if row is None:
        raise Unauthorized("Invalid API key.")
    key, user = row  # a Row unpacks like a tuple (Row.tuple() is deprecated in SQLAlchemy 2.x)
    if key.revoked_at is not None or not user.is_active:
        raise Unauthorized("Invalid API key.")
    principal = Principal("api_key", str(user.id), tuple(key.scopes.split()), user_id=user.id, role=user.role,
                          api_key_id=key.id)
    principals.put(cache_key, principal)
    return principal


async def _principal_from_token(request: Request, principals: PrincipalCache, tokens: TokenService,
                                token: str) -> Principal:
    cache_key = "jwt:" + token
    cached = principals.get(cache_key)
    if cached is not None:
        return cached
    try:
        claims = tokens.decode(token, "access")
    except InvalidToken as exc:
        log.info("token rejected", extra={"reason": str(exc)})
        raise Unauthorized("Invalid or expired token.") from exc
    if claims.subject.startswith("client:"):
        principal = Principal("client", claims.subject.removeprefix("client:"), claims.scopes)
    else:
        async with open_session(request) as session:
            user = await session.get(User, int(claims.subject)) if claims.subject.isdigit() else None
        if user is None or not user.is_active:
            raise Unauthorized("Invalid or expired token.")
        principal = Principal("user", str(user.id), ("read", "write"), user_id=user.id, role=user.role)
    # Never remembered past the token's own expiry (without the leeway: a cache must not extend it).
    principals.put(cache_key, principal, not_after_s=claims.expires_at - time.time())
    return principal


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """Who is calling, from the credential alone when it was seen in the last few seconds.

    No session is opened unless the principal cache misses (core/principals.py says when an entry
    is dropped); a hot read that also hits its own cache touches no database at all.
    """
    resolved: Principal | None = getattr(request.state, "principal", None)
    if resolved is not None:  # this request's credential, already resolved (by the rate-limit dependency)
        return resolved
    # Read from app state rather than declared as dependencies: every dependency node costs FastAPI
    # a resolution step on each request, and this one runs on every authenticated request.
    principals: PrincipalCache = request.app.state.principals
    tokens: TokenService = request.app.state.tokens
    token = bearer.credentials if bearer is not None else None
    if api_key:
        principal = await _principal_from_key(request, principals, api_key)
    elif token:
        principal = await _principal_from_token(request, principals, tokens, token)
    else:
        raise Unauthorized("Not authenticated.")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _require_user(request: Request, principal: Principal) -> UserRef:
    if principal.user_id is None or principal.role is None:
        raise Forbidden("This operation needs a user, not a service client.")
    needed = "read" if request.method in SAFE_METHODS else "write"
    if needed not in principal.scopes:
        raise Forbidden(f"The credential lacks the '{needed}' scope.")
    return UserRef(principal.user_id, principal.role)


async def get_user_ref(request: Request) -> UserRef:
    """The calling user's id and role, straight from the principal: no database, for hot reads.

    The principal is the one ``get_principal`` already resolved for this request (the router's
    rate-limit dependency runs it first), taken from ``request.state`` rather than declared as a
    parameter: FastAPI re-walks a declared dependency's whole sub-tree on every use, cached or not,
    which on the cached read was three of its nine dependency steps. Without one (a route whose
    router does not authenticate), the credential is read and resolved here, as ``get_principal``
    would.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = await get_principal(request, await bearer_scheme(request), await api_key_scheme(request))
    return _require_user(request, principal)


#: A user (directly or through an API key whose scope covers this method) as id and role only.
CurrentUserRef = Annotated[UserRef, Depends(get_user_ref)]


async def get_current_user(request: Request, principal: PrincipalDep, session: SessionDep) -> User:
    """A user, directly or through an API key whose scope covers this method, loaded for the route."""
    ref = _require_user(request, principal)
    user = await session.get(User, ref.id)
    if user is None or not user.is_active:  # changed since the principal was cached, in another process
        raise Unauthorized("Invalid or expired token.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Administrators only.")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_bearer_user(principal: PrincipalDep, session: SessionDep) -> User:
    """A user signed in with a token: managing API keys with an API key would let a leaked key persist."""
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("Sign in with a user token for this operation.")
    user = await session.get(User, principal.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired token.")
    return user


BearerUser = Annotated[User, Depends(get_bearer_user)]


def principal_limit(scope: str, setting: LimitName) -> Callable[..., Awaitable[None]]:
    """Rate limit keyed by the authenticated principal (user or API key), so buckets are per caller."""

    # The credentials are declared here (the same schemes, so the same OpenAPI security) and resolved
    # by calling get_principal, not by depending on it: one dependency step fewer on every limited
    # request. A route's own PrincipalDep still resolves through FastAPI, from the principal cache.
    async def enforce(
        request: Request,
        response: Response,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> None:
        principal = await get_principal(request, bearer, api_key)
        await apply_limit(request, response, scope, setting, principal.rate_key)

    return enforce
