"""OAuth2 token endpoints: password flow, refresh, and client credentials for service clients."""

from __future__ import annotations

import base64
import logging
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request, status

from reference_app.core.db import SessionDep
from reference_app.core.deps import HasherDep, PrincipalDep, SettingsDep, TokensDep
from reference_app.core.errors import BadRequest, Unauthorized, problem_responses
from reference_app.core.ratelimit import by_client_ip, limit_dependency
from reference_app.core.security import InvalidToken, constant_time_equals
from reference_app.models import User
from reference_app.schemas.auth import (
    Accepted,
    AccessToken,
    LoginForm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    WhoAmI,
)
from reference_app.services import users as user_service

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger("refapp.auth")
BAD_CREDENTIALS = "Incorrect email or password."


def _pair(tokens: TokensDep, user: User) -> TokenPair:
    subject = str(user.id)
    return TokenPair(
        access_token=tokens.issue(subject, "access"),
        refresh_token=tokens.issue(subject, "refresh"),
        expires_in=tokens.ttl("access"),
    )


@router.post(
    "/token",
    operation_id="auth_login",
    response_model=TokenPair,
    dependencies=[Depends(limit_dependency("login", "login_limit", by_client_ip))],
    responses=problem_responses(401, 422, 429),
)
async def login(
    form: Annotated[LoginForm, Form()],
    session: SessionDep,
    hasher: HasherDep,
    tokens: TokensDep,
) -> TokenPair:
    user = await user_service.authenticate(session, hasher, form.username, form.password)
    if user is None:
        raise Unauthorized(BAD_CREDENTIALS)
    return _pair(tokens, user)


@router.post(
    "/refresh",
    operation_id="auth_refresh",
    response_model=TokenPair,
    dependencies=[Depends(limit_dependency("refresh", "login_limit", by_client_ip))],
    responses=problem_responses(401, 422, 429),
)
async def refresh(body: RefreshRequest, session: SessionDep, tokens: TokensDep) -> TokenPair:
    try:
        claims = tokens.decode(body.refresh_token, "refresh")
    except InvalidToken as exc:
        raise Unauthorized("Invalid or expired refresh token.") from exc
    user = await session.get(User, int(claims.subject)) if claims.subject.isdigit() else None
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired refresh token.")
    return _pair(tokens, user)


@router.post(
    "/client-token",
    operation_id="auth_client_token",
    response_model=AccessToken,
    dependencies=[Depends(limit_dependency("client-token", "login_limit", by_client_ip))],
    responses=problem_responses(400, 401, 422, 429),
)
async def client_token(
    request: Request,
    settings: SettingsDep,
    tokens: TokensDep,
    grant_type: Annotated[str, Form(pattern="^client_credentials$")],
    client_id: Annotated[str | None, Form(min_length=1, max_length=100)] = None,
    client_secret: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
    scope: Annotated[str, Form(max_length=200)] = "",
) -> AccessToken:
    """Client credentials in the form body or, as RFC 6749 §2.3.1 requires servers to accept, in an
    HTTP Basic `Authorization` header (what Swagger UI's Authorize dialog sends)."""
    if client_id is None and client_secret is None:
        client_id, client_secret = _basic_credentials(request.headers.get("authorization"))
    if not client_id or not client_secret:
        raise Unauthorized("Invalid client credentials.")
    # Clients come from settings ("id:secret:scope scope"): service accounts are deployment config.
    for entry in settings.service_clients:
        cid, _, rest = entry.partition(":")
        secret, _, allowed = rest.partition(":")
        if cid == client_id and constant_time_equals(secret, client_secret):
            allowed_scopes = set(allowed.split())
            requested = set(scope.split()) or allowed_scopes
            if not requested <= allowed_scopes:
                raise BadRequest(f"Scope not allowed: {' '.join(sorted(requested - allowed_scopes))}.")
            granted = tuple(sorted(requested))
            return AccessToken(
                access_token=tokens.issue(f"client:{cid}", "access", granted),
                expires_in=tokens.ttl("access"),
                scope=" ".join(granted),
            )
    raise Unauthorized("Invalid client credentials.")


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """(id, secret) from ``Basic base64(urlencode(id):urlencode(secret))`` (RFC 6749 §2.3.1); Nones otherwise."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 1024:
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    cid, sep, secret = decoded.partition(":")
    return (unquote_plus(cid), unquote_plus(secret)) if sep else (None, None)


@router.post(
    "/password-reset",
    operation_id="auth_password_reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    dependencies=[Depends(limit_dependency("password-reset", "reset_limit", by_client_ip))],
    responses=problem_responses(422, 429),
)
async def password_reset(body: PasswordResetRequest) -> Accepted:
    # Always 202: the answer must not tell whether an account exists. No mail transport is
    # wired in the reference app; the request is logged so the throttle has something to protect.
    log.info("password reset requested", extra={"email_domain": body.email.split("@")[-1]})
    return Accepted()


@router.get(
    "/whoami",
    operation_id="auth_whoami",
    response_model=WhoAmI,
    responses=problem_responses(401),
)
async def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(kind=principal.kind, subject=principal.subject, scopes=list(principal.scopes))
