"""Settings: one pydantic-settings class, prefix ``REFAPP_``, reached through ``get_settings()``.

Every backend is chosen here so that tests and the harness can build the app they need with
``create_app(Settings(...))`` instead of patching globals.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal, Self

from limits import parse as parse_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Anything that appears in docs, examples or this file is by definition not a secret.
DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-please-0123456789"  # noqa: S105 - the known-unsafe default
MIN_SECRET_BYTES = 32


MIDDLEWARE_LAYERS = ("correlation", "timing", "access_log", "metrics", "gzip", "tracing")


class Env(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class UnsafeSettingsError(RuntimeError):
    """Raised at start-up: a production app must not run with a guessable secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFAPP_", env_file=None, extra="ignore", frozen=True)

    env: Env = Env.DEV
    app_name: str = "reference-app"
    debug: bool = False
    docs_enabled: bool = True

    # Backends: SQLite + in-memory cache/limiter unless URLs say otherwise.
    database_url: str = "sqlite+aiosqlite:///./var/refapp.db"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=120)
    db_statement_timeout_ms: int = Field(default=5000, ge=0, le=600_000)
    db_echo: bool = False
    redis_url: str | None = None
    redis_timeout_s: float = Field(default=0.5, gt=0, le=30)

    # Jobs: in-process BackgroundTasks (lost if the process dies) or a Celery worker (docs/jobs.md).
    jobs_backend: Literal["background", "celery"] = "background"
    # Celery's broker; unset: REFAPP_REDIS_URL, else kombu's SQLAlchemy transport on a SQLite file in
    # storage_dir (no server needed, so the embedded default runs the celery arm too).
    jobs_broker_url: str | None = None
    # Redis transport: an unacknowledged job (its worker killed mid-job) is redelivered after this long.
    jobs_visibility_timeout_s: int = Field(default=3600, ge=1, le=86_400)
    # Redis broker: how often a worker checks that the broker still has its data, and publishes every
    # unfinished job again if not (services/jobs_recovery.py); 0 turns the check off.
    jobs_recovery_interval_s: float = Field(default=10, ge=0, le=3600)
    # Simulated work per job (ms of asyncio.sleep while running): long jobs for experiments and fault tests.
    jobs_work_ms: int = Field(default=0, ge=0, le=600_000)
    # Finished jobs kept per owner (older ones pruned on create); the jobs experiment checks every job it made.
    jobs_keep_finished: int = Field(default=100, ge=1, le=10_000_000)

    # Auth.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "refapp"
    jwt_audience: str = "refapp-api"
    jwt_leeway_s: int = Field(default=10, ge=0, le=300)
    access_token_ttl_s: int = Field(default=900, ge=10, le=86_400)
    refresh_token_ttl_s: int = Field(default=7 * 86_400, ge=60, le=90 * 86_400)
    # Tuned down from argon2's defaults (see tests/bench): login must not be the first thing to melt under load.
    argon2_time_cost: int = Field(default=2, ge=1, le=10)
    argon2_memory_cost_kib: int = Field(default=19_456, ge=1024, le=1_048_576)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    seed_admin_email: str | None = None
    seed_admin_password: SecretStr | None = None
    # Service clients for the client-credentials flow, "client_id:secret:scope1 scope2" separated by commas.
    service_clients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # How long a verified credential's principal is remembered (core/principals.py). Role changes,
    # deactivation and key revocation drop it at once in their own process; other worker processes
    # see them within this many seconds. 0: no cache, every request asks the database.
    principal_cache_ttl_s: float = Field(default=5.0, ge=0, le=300)

    # Cache.
    cache_ttl_s: int = Field(default=60, ge=1, le=86_400)
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    # In-memory cache only: total bytes of cached values; least recently used evicted past it.
    cache_max_bytes: int = Field(default=64 * 1_048_576, ge=1024, le=1 << 40)

    # Rate limiting (the `limits` library's notation, e.g. "5/minute").
    rate_limit_enabled: bool = True
    rate_limit_fail_open: bool = True
    # In-memory limiter only: distinct keys (clients) remembered at once; least recently hit evicted past it.
    rate_limit_max_keys: int = Field(default=100_000, ge=10, le=10_000_000)
    default_limit: str = "600/minute"
    login_limit: str = "10/minute"
    signup_limit: str = "20/hour"
    reset_limit: str = "5/hour"
    lab_limit: str = "50/second"
    # Peers (addresses or networks) whose X-Forwarded-For/-Proto are believed, through uvicorn's
    # ProxyHeadersMiddleware: rate limits, the access log and request.client see the real client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # HTTP surface.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    # "full", "bare", or a comma-separated subset of MIDDLEWARE_LAYERS (one arm per layer in the
    # middleware_layers load experiment). Tracing also needs REFAPP_OTEL_EXPORTER.
    middleware: str = "full"
    access_log: bool = True
    # Access lines for every error (status >= 400) and every request slower than access_log_slow_ms;
    # of the rest, this fraction, each line's sample_rate saying how many requests it stands for.
    # 1.0 logs every request; docs/load.md gives what a line costs and why the default samples.
    access_log_sample_ratio: float = Field(default=0.01, ge=0.0, le=1.0)
    access_log_slow_ms: float = Field(default=500.0, ge=0.0)
    gzip_min_size: int = Field(default=1024, ge=0)
    max_json_bytes: int = Field(default=1_048_576, ge=1024)
    threadpool_size: int = Field(default=40, ge=1, le=1000)
    # Websocket subscribers per process; one more is closed with 1013 (try again later).
    ws_max_subscribers: int = Field(default=1000, ge=1, le=1_000_000)

    # Files.
    storage_dir: str = "./var/files"
    max_upload_bytes: int = Field(default=10 * 1_048_576, ge=1)
    max_upload_files: int = Field(default=20, ge=1, le=20)  # 20 is the contract's maxItems for batch uploads
    # Multipart field/file counts and non-file part size use Starlette's parser caps (1000, 1000, 1 MiB):
    # FastAPI's File()/Form() parameters offer no per-route way to lower them.
    max_range_parts: int = Field(default=1, ge=1, le=100)

    # Observability.
    log_level: str = "INFO"
    # "discard": traced and sampled, spans dropped (measures tracing's own cost without a collector).
    otel_exporter: Literal["none", "console", "otlp", "discard"] = "none"
    otel_endpoint: str | None = None
    # 0.1 %, Jaeger's default: a traced request costs ~100 us more than /lab/hello's ~75 us when every
    # request is traced and ~300 us when few are (cold caches; docs/load.md), so the ratio is what
    # tracing costs: at 1 % it was the largest item of the middleware stack (~3 us a request), at 5 %
    # a tenth of hello's throughput. 0.001 of 1,000 rps is a trace a second; a low-traffic service
    # raises it. A request with a sampled traceparent is traced whatever the ratio.
    otel_sample_ratio: float = Field(default=0.001, ge=0.0, le=1.0)
    metrics_enabled: bool = True
    # GET /debug/memory (tracemalloc snapshot diffs, reference_app/api/debug.py). Never on by default.
    debug_memory: bool = False

    # Outbound calls to the pricing downstream (docs/downstream.md). Unset URL: quotes answer 503.
    pricing_url: str | None = None
    pricing_connect_timeout_s: float = Field(default=0.5, gt=0, le=30)
    pricing_read_timeout_s: float = Field(default=1.0, gt=0, le=60)
    pricing_write_timeout_s: float = Field(default=1.0, gt=0, le=60)
    pricing_pool_timeout_s: float = Field(default=0.5, gt=0, le=30)
    pricing_total_timeout_s: float = Field(default=2.0, gt=0, le=120)  # every attempt and backoff
    pricing_max_attempts: int = Field(default=3, ge=1, le=10)  # GETs only
    pricing_backoff_initial_s: float = Field(default=0.05, ge=0, le=10)
    pricing_backoff_max_s: float = Field(default=0.5, ge=0, le=30)
    pricing_breaker_enabled: bool = True
    pricing_breaker_threshold: int = Field(default=5, ge=1, le=1000)
    pricing_breaker_reset_s: float = Field(default=5.0, gt=0, le=3600)
    pricing_bulkhead_size: int = Field(default=50, ge=1, le=10_000)
    pricing_bulkhead_wait_s: float = Field(default=0.05, ge=0, le=30)
    pricing_max_connections: int = Field(default=100, ge=1, le=10_000)
    pricing_max_keepalive: int = Field(default=20, ge=0, le=10_000)
    pricing_max_response_bytes: int = Field(default=16_384, ge=256, le=10_485_760)
    pricing_stale_ttl_s: int = Field(default=3600, ge=1, le=7 * 86_400)

    @field_validator("service_clients", "trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("middleware")
    @classmethod
    def _valid_middleware(cls, value: str) -> str:
        value = value.strip().lower()
        if value in ("full", "bare"):
            return value
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = sorted(set(names) - set(MIDDLEWARE_LAYERS))
        if unknown or not names:
            raise ValueError(f"middleware: 'full', 'bare' or a comma-separated subset of "
                             f"{', '.join(MIDDLEWARE_LAYERS)}; unknown: {', '.join(unknown) or '(empty)'}")
        return ",".join(n for n in MIDDLEWARE_LAYERS if n in names)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        # uvicorn's ProxyHeadersMiddleware would take a typo for a literal host name that never
        # matches, silently; here it is refused at start-up. Networks are normalized (10.1.2.3/8 ->
        # 10.0.0.0/8) because uvicorn parses them strictly.
        return [str(ipaddress.ip_network(p, strict=False)) if "/" in p else str(ipaddress.ip_address(p))
                for p in value]

    @field_validator("default_limit", "login_limit", "signup_limit", "reset_limit", "lab_limit")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        parse_limit(value)  # raises ValueError with the library's own message
        return value

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Self:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("CORS: a '*' origin together with credentials is refused (browsers would leak cookies)")
        return self

    @property
    def middleware_layers(self) -> frozenset[str]:
        if self.middleware == "full":
            return frozenset(MIDDLEWARE_LAYERS)
        if self.middleware == "bare":
            return frozenset()
        return frozenset(self.middleware.split(","))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_url(self) -> str:
        if self.jobs_broker_url:
            return self.jobs_broker_url
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{self.storage_dir}/celery-broker.sqlite"

    @property
    def cache_key_prefix(self) -> str:
        return f"refapp:{self.env.value}"

    def check_safe(self) -> None:
        """Refuse to run outside dev/test with a default or short JWT secret."""
        if self.env is not Env.PROD:
            return
        secret = self.jwt_secret.get_secret_value()
        # RFC 7518 §3.2: an HMAC key at least as long as the hash output (32/48/64 bytes).
        needed = max(MIN_SECRET_BYTES, int(self.jwt_algorithm.removeprefix("HS")) // 8)
        if secret == DEV_JWT_SECRET or len(secret.encode()) < needed:
            raise UnsafeSettingsError(
                f"REFAPP_JWT_SECRET must be a random value of at least {needed} bytes for {self.jwt_algorithm} in prod"
            )
        if self.debug:
            raise UnsafeSettingsError("REFAPP_DEBUG must be off in prod")
        if self.debug_memory:
            raise UnsafeSettingsError("REFAPP_DEBUG_MEMORY must be off in prod")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
