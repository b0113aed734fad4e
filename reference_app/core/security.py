"""Passwords (argon2 via pwdlib), JWTs (PyJWT, RFC 8725 practices) and API-key material.

Token validation is deliberately narrow: one pinned algorithm, required registered claims,
a token type that separates access from refresh, and a header allow-list so that ``kid``
tricks and unknown ``crit`` extensions are refused rather than interpreted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from reference_app.core.config import Settings

TokenType = Literal["access", "refresh"]
KEY_ID = "refapp-hs-1"
API_KEY_PREFIX = "rk_"
_ALLOWED_HEADER_KEYS = frozenset({"alg", "typ", "kid"})
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]


class InvalidToken(Exception):
    """Any reason a token is not acceptable; the reason is logged, never shown to the client."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    token_type: TokenType
    scopes: tuple[str, ...]
    jti: str
    expires_at: int


class PasswordHasher:
    """argon2id with costs from settings; hashing runs in a worker thread to keep the loop free."""

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_cost_kib,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        # Verifying against this when the user does not exist keeps both failure paths equally slow.
        self._dummy = self._hash.hash(secrets.token_urlsafe(16))

    def hash_sync(self, password: str) -> str:
        return self._hash.hash(password)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        target = hashed if hashed is not None else self._dummy
        ok: bool = await anyio.to_thread.run_sync(self._hash.verify, password, target)
        return ok and hashed is not None


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._alg = settings.jwt_algorithm
        self._iss = settings.jwt_issuer
        self._aud = settings.jwt_audience
        self._leeway = settings.jwt_leeway_s
        self._ttl: dict[TokenType, int] = {
            "access": settings.access_token_ttl_s,
            "refresh": settings.refresh_token_ttl_s,
        }

    def ttl(self, token_type: TokenType) -> int:
        return self._ttl[token_type]

    def issue(self, subject: str, token_type: TokenType, scopes: tuple[str, ...] = ()) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": self._iss,
            "aud": self._aud,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl[token_type],
            "jti": uuid.uuid4().hex,
            "typ": token_type,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        return jwt.encode(claims, self._secret, algorithm=self._alg, headers={"kid": KEY_ID})

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed header: {exc}") from exc
        unknown = set(header) - _ALLOWED_HEADER_KEYS
        if unknown:
            raise InvalidToken(f"unsupported header parameters: {sorted(unknown)}")
        if "kid" in header and header["kid"] != KEY_ID:
            raise InvalidToken("unknown key id")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._alg],  # pinned: never taken from the token
                audience=self._aud,
                issuer=self._iss,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != expected_type:
            raise InvalidToken(f"expected a {expected_type} token")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("bad subject")
        scope = claims.get("scope", "")
        return TokenClaims(
            subject=sub,
            token_type=expected_type,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            jti=str(claims.get("jti", "")),
            expires_at=int(claims["exp"]),
        )


def new_api_key() -> tuple[str, str, str]:
    """Return (plaintext, prefix, sha256): the plaintext is shown once and never stored."""
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return plaintext, plaintext[:10], hash_api_key(plaintext)


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
