"""Database and Redis for ``harness run --backend postgres``.

URLs come from ``HARNESS_DATABASE_URL`` / ``HARNESS_REDIS_URL`` when set (the same variables the
integration suite reads; a driver-less ``postgres://`` URL gets ``+asyncpg``); otherwise a PostgreSQL
and a Redis container are started with testcontainers from the images ``harness containers prepare``
makes available (even air-gapped), and always stopped at the end. ``sqlite`` needs nothing: every
server of the load runner gets its own SQLite file and in-memory cache and limiter.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError

DATABASE_URL_ENV = "HARNESS_DATABASE_URL"
REDIS_URL_ENV = "HARNESS_REDIS_URL"
PG_USER, PG_PASSWORD, PG_DB = "harness", "harness-run-pw", "harness"
Urls = tuple[str | None, str | None]


def asyncpg_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep and scheme in {"postgres", "postgresql"}:
        return f"postgresql+asyncpg://{rest}"
    return url


def _setup_failed(what: str, detail: str, env: str) -> HarnessError:
    return HarnessError(f"--backend postgres: {what} ({detail}); run `harness containers prepare`, or set {env}",
                        exitcodes.INVALID_RUN)


def _configure_ryuk() -> None:
    """Ryuk (testcontainers' reaper) can't be pulled air-gapped: disable it when its image is absent."""
    from harness.containers.dockerops import local_image
    from harness.containers.runenv import RYUK_DISABLED_ENV, run_env, ryuk_image

    if RYUK_DISABLED_ENV in os.environ:
        return
    disabled = run_env(ryuk_available=local_image(ryuk_image()) is not None).get(RYUK_DISABLED_ENV)
    if disabled is not None:
        os.environ[RYUK_DISABLED_ENV] = disabled


@contextlib.contextmanager
def _container(what: str, env: str, make: Callable[[], Any], url: Callable[[Any], str],
               progress: Callable[[str], None]) -> Iterator[str]:
    from harness.containers.engine import engine_host, ping

    if ping() is None:
        raise _setup_failed(f"no Docker engine for {what}", f"at {engine_host()}", env)
    _configure_ryuk()
    progress(f"starting a {what} container ...")
    container = None
    try:
        container = make()
        container.start()
    except Exception as exc:
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop()
        raise _setup_failed(f"the {what} container did not start", f"{type(exc).__name__}: {exc}"[:200], env) from exc
    try:
        value = url(container)
        progress(f"  {what} at {value.split('@')[-1]}")
        yield value
    finally:
        with contextlib.suppress(Exception):
            container.stop()


def _postgres() -> Any:
    from testcontainers.community.postgres import PostgresContainer

    from harness.containers.images import postgres_image

    container = PostgresContainer(postgres_image().requested, username=PG_USER, password=PG_PASSWORD,
                                  dbname=PG_DB, driver="asyncpg")
    return container.with_env("POSTGRES_INITDB_ARGS", "--no-sync")


def _redis() -> Any:
    from testcontainers.community.redis import RedisContainer

    from harness.containers.images import redis_image

    return RedisContainer(redis_image().requested)


def _redis_url(container: Any) -> str:
    return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"


@contextlib.contextmanager
def backend_urls(backend: str, progress: Callable[[str], None]) -> Iterator[Urls]:
    """``(database_url, redis_url)`` for the servers; ``(None, None)`` for the embedded default."""
    if backend == "sqlite":
        yield None, None
        return
    if backend != "postgres":
        raise HarnessError(f"unknown backend {backend!r} (sqlite or postgres)")
    with contextlib.ExitStack() as stack:
        db = os.environ.get(DATABASE_URL_ENV, "").strip()
        redis = os.environ.get(REDIS_URL_ENV, "").strip()
        if not db:
            db = stack.enter_context(_container("PostgreSQL", DATABASE_URL_ENV, _postgres,
                                                lambda c: str(c.get_connection_url()), progress))
        if not redis:
            redis = stack.enter_context(_container("Redis", REDIS_URL_ENV, _redis, _redis_url, progress))
        yield asyncpg_url(db), redis
