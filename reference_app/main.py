"""``create_app(settings)``: the one way the service is built, by servers and by tests alike."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from reference_app import __version__
from reference_app.api import debug, health, metrics
from reference_app.api.v1 import api_keys, auth, files, items, jobs, lab, quotes, users, ws
from reference_app.api.v2 import items as items_v2
from reference_app.core.cache import Cache, MemoryCache, RedisCache
from reference_app.core.config import Env, Settings, get_settings
from reference_app.core.db import build_engine, build_sessionmaker
from reference_app.core.docs import DOCS_STATIC_URL, declare_oauth2_flows
from reference_app.core.errors import install_error_handlers, normalize_error_docs
from reference_app.core.logging import configure_logging
from reference_app.core.middleware import (
    BodySizeLimitMiddleware,
    RequestTelemetryMiddleware,
    SelectiveGZipMiddleware,
)
from reference_app.core.principals import PrincipalCache
from reference_app.core.ratelimit import RateLimiter
from reference_app.core.security import PasswordHasher, TokenService
from reference_app.core.telemetry import (
    Metrics,
    build_tracer_provider,
    instrument_backends,
)
from reference_app.models import Base
from reference_app.services.bootstrap import seed_admin
from reference_app.services.jobs_celery import create_celery
from reference_app.services.pricing_client import build_pricing_client
from reference_app.services.pubsub import Hub

log = logging.getLogger("refapp")
DOWNLOAD_PATHS = re.compile(r"^/api/v1/files/[^/]+/content$")

TAGS = [
    {"name": "auth", "description": "OAuth2 password and client-credentials flows, refresh."},
    {"name": "users", "description": "Registration and the signed-in user."},
    {"name": "api-keys", "description": "Scoped, revocable API keys."},
    {"name": "items", "description": "Owner-scoped items with ETags and a read-through cache."},
    {"name": "files", "description": "Uploads, CSV import, ranged streaming downloads."},
    {"name": "jobs", "description": "Background jobs."},
    {"name": "lab", "description": "Endpoints for load profiles: I/O, CPU, rate limiting."},
    {"name": "health", "description": "Liveness and readiness."},
]


def _build_cache(settings: Settings) -> Cache:
    if settings.redis_url:
        client = Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        return RedisCache(client)
    return MemoryCache(settings.cache_max_entries, settings.cache_max_bytes)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
    engine = build_engine(settings)
    app.state.engine = engine
    app.state.sessionmaker = build_sessionmaker(engine)
    if app.state.metrics is not None:
        app.state.metrics.watch_pool(engine)
    app.state.cache = _build_cache(settings)
    app.state.limiter = RateLimiter(settings)
    app.state.hub = Hub(settings.ws_max_subscribers)
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        instrument_backends(settings, engine, provider)
    app.state.pricing = build_pricing_client(settings, app.state.metrics, provider)
    if settings.env is Env.TEST and settings.is_sqlite:
        # In-process tests only; every other mode gets its schema from Alembic.
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    await seed_admin(app.state.sessionmaker, settings, app.state.hasher)
    log.info("started", extra={"env": settings.env.value, "db": engine.url.get_backend_name(),
                               "cache": app.state.cache.backend, "limiter": app.state.limiter.backend})
    try:
        yield
    finally:
        await app.state.pricing.aclose()
        await app.state.hub.close()
        await app.state.cache.close()
        await app.state.limiter.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_safe()
    configure_logging(settings.log_level)
    docs = settings.docs_enabled
    # With docs on, fastapi-offline serves Swagger UI and ReDoc with their assets bundled in the package
    # (under /docs-static): the CDN copies FastAPI links to leave air-gapped deployments blank pages.
    factory: Callable[..., FastAPI] = (
        functools.partial(FastAPIOffline, static_url=DOCS_STATIC_URL) if docs else FastAPI
    )
    app = factory(
        title="fastapi-harness reference app",
        version=__version__,
        description="A production-shaped FastAPI service that the harness drives.",
        lifespan=lifespan,
        openapi_tags=TAGS,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # Swagger UI's Authorize dialog: the password flow's form takes the email as "username".
        swagger_ui_init_oauth={"scopeSeparator": " "},
        debug=False,  # never the traceback page, whatever REFAPP_DEBUG says
        # FastAPI's built-in OpenTelemetry off: tracing and metrics are this app's own layers
        # (REFAPP_MIDDLEWARE, sampled at the edge). Left on, FastAPI asks the global providers on
        # every request whether it should trace it (~5 us each, on the bare app as well), and would
        # trace every request, unsampled by our ratio, once anything set a global tracer provider.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # Built here, not in the lifespan: their cost (argon2 dummy hash) should not be paid per request.
    app.state.hasher = PasswordHasher(settings)
    app.state.tokens = TokenService(settings)
    app.state.principals = PrincipalCache(settings.principal_cache_ttl_s)
    app.state.metrics = Metrics() if settings.metrics_enabled else None
    app.state.celery = None
    if settings.jobs_backend == "celery":
        app.state.celery = create_celery(settings)
    install_error_handlers(app)
    provider = build_tracer_provider(settings) if "tracing" in settings.middleware_layers else None
    if provider is not None:
        app.state.tracer_provider = provider

    for router in (auth.router, users.router, api_keys.router, items.router, quotes.router, files.router,
                   jobs.router, lab.router, ws.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(items_v2.router, prefix="/api/v2")
    app.include_router(health.router)
    normalize_error_docs(app)
    declare_oauth2_flows(app)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    if settings.debug_memory:
        debug.start(app.state)
        app.include_router(debug.router)

    # Added innermost first. The size cap sits closest to the app; CORS outermost so preflights are cheap.
    app.add_middleware(
        BodySizeLimitMiddleware, json_limit=settings.max_json_bytes, upload_limit=settings.max_upload_bytes
    )
    # One switch per layer (REFAPP_MIDDLEWARE), so that each layer's cost can be its own A/B arm.
    layers = settings.middleware_layers
    if "gzip" in layers:
        app.add_middleware(SelectiveGZipMiddleware, minimum_size=settings.gzip_min_size, skip_paths=DOWNLOAD_PATHS)
    log_requests = "access_log" in layers and settings.access_log
    request_metrics = app.state.metrics.requests if "metrics" in layers and app.state.metrics else None
    # Outermost of the layers but CORS and the proxy headers (below).
    if log_requests or request_metrics is not None or provider is not None or {"correlation", "timing"} & layers:
        app.add_middleware(
            RequestTelemetryMiddleware, correlation="correlation" in layers, timing="timing" in layers,
            log_enabled=log_requests, metrics=request_metrics,
            sample_ratio=settings.access_log_sample_ratio, slow_s=settings.access_log_slow_ms / 1000,
            tracer_provider=provider, trace_ratio=settings.otel_sample_ratio,
            trace_excluded_urls="health/live,metrics",
        )
    if settings.trusted_proxies:
        # Outside the access log and the limiter, so both see the client the proxy reports.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "If-Match",
                           "Idempotency-Key"],
            expose_headers=["ETag", "Location", "X-Request-ID", "X-Cache", "Retry-After", "X-RateLimit-Limit",
                            "X-RateLimit-Remaining", "X-RateLimit-Reset"],
        )
    return app
