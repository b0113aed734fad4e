"""Settings: defaults, env parsing, validation, and the production safety checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from reference_app.core.config import DEV_JWT_SECRET, Env, Settings, UnsafeSettingsError, get_settings
from reference_app.main import create_app

STRONG = "s" * 32


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("REFAPP_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_are_the_embedded_backends(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.env is Env.DEV
    assert s.is_sqlite
    assert s.redis_url is None
    assert s.cache_key_prefix == "refapp:dev"
    assert s.threadpool_size == 40
    assert s.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert "dev-insecure" not in repr(s)  # SecretStr never prints


def test_env_prefix_and_comma_lists(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("REFAPP_ENV", "test")
    clean_env.setenv("REFAPP_CORS_ORIGINS", "https://a.example, https://b.example,,")
    clean_env.setenv("REFAPP_TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1")
    clean_env.setenv("REFAPP_SERVICE_CLIENTS", "svc:secret:read write, other:pw:read")
    clean_env.setenv("REFAPP_RATE_LIMIT_ENABLED", "false")
    clean_env.setenv("REFAPP_THREADPOOL_SIZE", "8")
    clean_env.setenv("REFAPP_LAB_LIMIT", "5/second")
    s = Settings()
    assert s.env is Env.TEST
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.trusted_proxies == ["10.0.0.0/8", "192.168.1.1"]
    assert s.service_clients == ["svc:secret:read write", "other:pw:read"]
    assert s.rate_limit_enabled is False
    assert s.threadpool_size == 8
    assert s.lab_limit == "5/second"


def test_unprefixed_variables_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("THREADPOOL_SIZE", "3")
    assert Settings().threadpool_size == 40


def test_lists_can_be_given_as_lists() -> None:
    assert Settings(cors_origins=["https://x.example"]).cors_origins == ["https://x.example"]


@pytest.mark.parametrize("limit", ["lots", "5 per fortnight", ""])
def test_invalid_rate_limit_strings_are_refused(limit: str) -> None:
    with pytest.raises(ValidationError):
        Settings(lab_limit=limit)


@pytest.mark.parametrize(("field", "value"), [("threadpool_size", 0), ("cache_ttl_s", 0), ("db_pool_size", 0),
                                               ("max_json_bytes", 10), ("otel_exporter", "zipkin"),
                                               ("middleware", "fancy"), ("env", "staging")])
def test_out_of_range_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.threadpool_size = 1  # type: ignore[misc]


def test_cors_wildcard_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="credentials"):
        Settings(cors_origins="*", cors_allow_credentials=True)


def test_cors_wildcard_without_credentials_is_allowed() -> None:
    assert Settings(cors_origins="*").cors_origins == ["*"]


def test_prod_refuses_the_default_secret() -> None:
    with pytest.raises(UnsafeSettingsError, match="JWT_SECRET"):
        Settings(env="prod").check_safe()


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])  # bytes count, not characters
def test_prod_refuses_a_short_secret(secret: str) -> None:
    with pytest.raises(UnsafeSettingsError):
        Settings(env="prod", jwt_secret=secret).check_safe()


def test_prod_accepts_a_32_byte_secret() -> None:
    Settings(env="prod", jwt_secret=STRONG).check_safe()
    Settings(env="prod", jwt_secret="é" * 16).check_safe()


def test_prod_refuses_debug() -> None:
    with pytest.raises(UnsafeSettingsError, match="DEBUG"):
        Settings(env="prod", jwt_secret=STRONG, debug=True).check_safe()


@pytest.mark.parametrize("env", ["dev", "test"])
def test_dev_and_test_tolerate_the_default_secret(env: str) -> None:
    Settings(env=env).check_safe()


def test_create_app_refuses_unsafe_prod_settings() -> None:
    with pytest.raises(UnsafeSettingsError):
        create_app(Settings(env="prod", jwt_secret="too-short"))


def test_get_settings_is_cached_and_reads_env(clean_env: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        clean_env.setenv("REFAPP_APP_NAME", "from-env")
        first = get_settings()
        clean_env.setenv("REFAPP_APP_NAME", "changed")
        assert get_settings() is first
        assert first.app_name == "from-env"
    finally:
        get_settings.cache_clear()


def test_create_app_without_settings_uses_get_settings(clean_env: pytest.MonkeyPatch, tmp_path: object) -> None:
    get_settings.cache_clear()
    try:
        clean_env.setenv("REFAPP_DOCS_ENABLED", "false")
        app = create_app()
        assert app.state.settings is get_settings()
        assert app.openapi_url is None
    finally:
        get_settings.cache_clear()


def test_cache_key_prefix_follows_env(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().cache_key_prefix == "refapp:test"
    assert Settings(env="prod").cache_key_prefix == "refapp:prod"


@pytest.mark.parametrize(("algorithm", "needed"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_prod_secret_must_match_the_hmac_output_size(algorithm: str, needed: int) -> None:
    """RFC 7518 §3.2: one byte short of the hash size is refused, the exact size is accepted."""
    short = Settings(env=Env.PROD, jwt_algorithm=algorithm, jwt_secret="k" * (needed - 1))
    with pytest.raises(UnsafeSettingsError, match=f"{needed} bytes for {algorithm}"):
        short.check_safe()
    Settings(env=Env.PROD, jwt_algorithm=algorithm, jwt_secret="k" * needed).check_safe()
