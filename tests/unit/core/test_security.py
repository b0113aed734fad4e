"""TokenService (RFC 8725 practices) and PasswordHasher, tested directly."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from reference_app.core.config import Settings
from reference_app.core.security import (
    API_KEY_PREFIX,
    KEY_ID,
    InvalidToken,
    PasswordHasher,
    TokenService,
    constant_time_equals,
    hash_api_key,
    new_api_key,
)
from tests.utils.app_fixtures import JWT_SECRET


@pytest.fixture
def tokens(settings: Settings) -> TokenService:
    return TokenService(settings)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "7", "iss": "refapp", "aud": "refapp-api", "iat": now, "nbf": now, "exp": now + 300,
            "jti": "j", "typ": "access"}
    return {k: v for k, v in (base | overrides).items() if v is not None}


def sign(payload: dict[str, Any], *, key: str = JWT_SECRET, alg: str = "HS256",
         headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": KEY_ID} if headers is None else headers)


def test_issue_and_decode_round_trip(tokens: TokenService) -> None:
    token = tokens.issue("42", "access", ("read",))
    decoded = tokens.decode(token, "access")
    assert (decoded.subject, decoded.token_type, decoded.scopes) == ("42", "access", ("read",))
    assert decoded.expires_at - int(time.time()) in range(890, 901)
    assert len(decoded.jti) == 32


def test_each_token_has_a_fresh_jti(tokens: TokenService) -> None:
    a, b = (tokens.decode(tokens.issue("1", "access"), "access") for _ in range(2))
    assert a.jti != b.jti


def test_ttl_per_type(tokens: TokenService) -> None:
    assert (tokens.ttl("access"), tokens.ttl("refresh")) == (900, 7 * 86_400)


def test_a_hand_signed_valid_token_is_accepted(tokens: TokenService) -> None:
    assert tokens.decode(sign(claims()), "access").subject == "7"


def test_alg_none_is_rejected(tokens: TokenService) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    with pytest.raises(InvalidToken):
        tokens.decode(token, "access")


def test_other_hmac_algorithm_is_rejected(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken, match="alg value is not allowed"):
        tokens.decode(sign(claims(), alg="HS384"), "access")


def test_wrong_key_is_rejected(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken, match="Signature"):
        tokens.decode(sign(claims(), key="x" * 40), "access")


def test_expired_beyond_leeway_is_rejected(tokens: TokenService) -> None:
    now = int(time.time())
    with pytest.raises(InvalidToken, match="expired"):
        tokens.decode(sign(claims(iat=now - 100, nbf=now - 100, exp=now - 11)), "access")


def test_expired_within_leeway_is_accepted(tokens: TokenService) -> None:
    now = int(time.time())
    assert tokens.decode(sign(claims(iat=now - 100, nbf=now - 100, exp=now - 5)), "access").subject == "7"


def test_not_yet_valid_is_rejected(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken, match="not yet valid"):
        tokens.decode(sign(claims(nbf=int(time.time()) + 120)), "access")


@pytest.mark.parametrize(("claim", "value"), [("aud", "someone-else"), ("iss", "evil")])
def test_wrong_audience_or_issuer_is_rejected(tokens: TokenService, claim: str, value: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(sign(claims(**{claim: value})), "access")


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_missing_required_claim_is_rejected(tokens: TokenService, missing: str) -> None:
    payload = claims()
    del payload[missing]
    with pytest.raises(InvalidToken):
        tokens.decode(sign(payload), "access")


def test_refresh_is_not_accepted_as_access(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken, match="expected a access token"):
        tokens.decode(tokens.issue("1", "refresh"), "access")


def test_access_is_not_accepted_as_refresh(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(tokens.issue("1", "access"), "refresh")


def test_token_without_type_is_rejected(tokens: TokenService) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(sign(claims(typ=None)), "access")


def test_tampered_payload_is_rejected(tokens: TokenService) -> None:
    header, _, signature = tokens.issue("1", "access").split(".")
    forged = ".".join([header, _b64(claims(sub="2")), signature])
    with pytest.raises(InvalidToken):
        tokens.decode(forged, "access")


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "", "not-a-jwt", "....", "e30.e30.e30.e30"])
def test_malformed_tokens_are_rejected(tokens: TokenService, token: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(token, "access")


@pytest.mark.parametrize("kid", ["../../../../dev/null", "refapp-hs-2", "", "' OR 1=1 --"])
def test_unknown_or_traversal_kid_is_rejected(tokens: TokenService, kid: str) -> None:
    with pytest.raises(InvalidToken, match="unknown key id"):
        tokens.decode(sign(claims(), headers={"kid": kid}), "access")


@pytest.mark.parametrize(
    "extra_header", [{"crit": ["exp"], "exp": 1}, {"crit": ["x-unknown"], "x-unknown": True},
                     {"jku": "https://evil.example/jwks"}, {"jwk": {"kty": "oct", "k": "AAAA"}},
                     {"x5u": "https://evil.example/cert"}],
)
def test_header_parameters_outside_the_allow_list_are_rejected(
    tokens: TokenService, extra_header: dict[str, Any]
) -> None:
    # ``crit`` is refused by PyJWT already; anything else by the allow-list. Either way: rejected.
    with pytest.raises(InvalidToken, match=r"(?i)(unsupported header|critical extension)"):
        tokens.decode(sign(claims(), headers={"kid": KEY_ID, **extra_header}), "access")


def test_token_without_kid_is_accepted(tokens: TokenService) -> None:
    assert tokens.decode(sign(claims(), headers={}), "access").subject == "7"


@pytest.mark.parametrize("sub", ["", 7])
def test_bad_subject_is_rejected(tokens: TokenService, sub: object) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(sign(claims(sub=sub)), "access")


def test_non_string_scope_yields_no_scopes(tokens: TokenService) -> None:
    assert tokens.decode(sign(claims(scope=["read"])), "access").scopes == ()


def test_pinned_algorithm_follows_settings(make_settings: Callable[..., Settings]) -> None:
    secret = "k" * 64  # HS512 wants a 64-byte key
    hs512 = TokenService(make_settings(jwt_algorithm="HS512", jwt_secret=secret))
    token = hs512.issue("1", "access")
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert hs512.decode(token, "access").subject == "1"
    with pytest.raises(InvalidToken, match="alg value is not allowed"):
        TokenService(make_settings(jwt_secret=secret)).decode(token, "access")


# ---- passwords -------------------------------------------------------------------------------------


@pytest.fixture
def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(settings)


async def test_hash_is_argon2id_with_configured_cost(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("s3cret-password")
    assert hashed.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in hashed
    assert "s3cret-password" not in hashed


async def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    assert await hasher.hash("same") != await hasher.hash("same")


async def test_verify_right_and_wrong(hasher: PasswordHasher) -> None:
    hashed = hasher.hash_sync("correct horse")
    assert await hasher.verify("correct horse", hashed) is True
    assert await hasher.verify("Correct horse", hashed) is False


async def test_verify_without_a_hash_is_false(hasher: PasswordHasher) -> None:
    assert await hasher.verify("anything", None) is False


# ---- API key material ------------------------------------------------------------------------------


def test_new_api_key_material() -> None:
    plaintext, prefix, digest = new_api_key()
    assert plaintext.startswith(API_KEY_PREFIX)
    assert len(plaintext) >= 40
    assert prefix == plaintext[:10]
    assert digest == hashlib.sha256(plaintext.encode()).hexdigest() == hash_api_key(plaintext)
    assert new_api_key()[0] != plaintext


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "ab")
