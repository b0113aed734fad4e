"""JWT encode/decode (``TokenService``) and an argon2 password hash (``PasswordHasher``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reference_app.core.security import PasswordHasher, TokenService
from tests.bench.conftest import bench_settings

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenService:
    return TokenService(bench_settings(tmp_path_factory.mktemp("jwt")))


@pytest.mark.benchmark(group="jwt")
def test_jwt_encode(benchmark: Any, tokens: TokenService) -> None:
    token = benchmark(tokens.issue, "user-42", "access", ("items:read", "items:write"))
    claims = tokens.decode(token, "access")
    assert claims.subject == "user-42"
    assert claims.scopes == ("items:read", "items:write")


@pytest.mark.benchmark(group="jwt")
def test_jwt_decode(benchmark: Any, tokens: TokenService) -> None:
    token = tokens.issue("user-42", "access", ("items:read",))
    claims = benchmark(tokens.decode, token, "access")
    assert claims.subject == "user-42"
    assert claims.token_type == "access"
    assert claims.scopes == ("items:read",)


@pytest.mark.benchmark(group="argon2", min_rounds=5)
def test_argon2_hash(benchmark: Any, tmp_path: Path) -> None:
    """One argon2id hash at the app's default (tuned) costs.

    The costs are ``Settings.argon2_*``: time_cost=2, memory_cost=19 MiB (19,456 KiB),
    parallelism=1, which is OWASP's minimum recommendation for argon2id, tuned down from argon2-cffi's
    defaults (time_cost=3, 64 MiB, parallelism=4). Every login pays one verify of the same cost
    (``PasswordHasher.verify``, even for unknown users, so both failure paths are equally slow), and
    every signup or password change one hash. Measured on the 2-core reference machine while it was
    shared with other jobs: 83-104 ms per hash (min-median); on a quiet core expect roughly a third of
    that. Either way one core sustains only ~10-30 logins/s, and every login in flight holds 19 MiB
    (40 concurrent logins ≈ 760 MiB): login is the first endpoint to melt under load, which is why it
    is rate-limited (``login_limit``) and hashed in a worker thread, off the event loop.
    """
    settings = bench_settings(tmp_path)  # argon2 costs left at the app's defaults
    assert (settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism) == (2, 19_456, 1)
    hasher = PasswordHasher(settings)
    hashed = benchmark(hasher.hash_sync, "correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in hashed
    benchmark.extra_info["argon2"] = "time_cost=2, memory_cost=19456 KiB, parallelism=1"
