"""Session-scoped PostgreSQL and Redis for integration tests (a pytest plugin module).

Load it with ``pytest_plugins = ["tests.utils.containers"]``. It provides:

* ``postgres_url``: an asyncpg SQLAlchemy URL, ``postgresql+asyncpg://user:pw@host:port/db``;
* ``redis_url``: ``redis://host:port/0``.

Each comes from ``HARNESS_DATABASE_URL`` / ``HARNESS_REDIS_URL`` when set (a driver-less
``postgres://`` or ``postgresql://`` URL gets ``+asyncpg``); otherwise the stock testcontainers
``PostgresContainer`` / ``RedisContainer`` start the configured images (``HARNESS_POSTGRES_IMAGE``,
default ``postgres:15``; ``HARNESS_REDIS_IMAGE``, default ``redis:7``), which
``harness containers prepare`` makes available even without a registry. Containers are always
stopped at the end of the session. When no container can be had, the tests are skipped with one
line saying why, or fail under ``CI=true``: a CI run that skipped its integration tests would be
a green light on nothing. Ryuk is disabled when its image isn't available locally (see
``harness.containers.runenv``), which is why the stop here is in a ``finally``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.containers.dockerops import local_image
from harness.containers.engine import docker_sdk, engine_host, ping
from harness.containers.images import postgres_image, redis_image
from harness.containers.runenv import RYUK_DISABLED_ENV, run_env, ryuk_image
from tests.utils.ci import unavailable

DATABASE_URL_ENV = "HARNESS_DATABASE_URL"
REDIS_URL_ENV = "HARNESS_REDIS_URL"
PG_USER = "harness"
PG_PASSWORD = "harness-test-pw"
PG_DB = "harness"
_HINT = "run `harness containers prepare`, or set {env}"


def asyncpg_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` (no driver) → ``postgresql+asyncpg://``; others unchanged."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in {"postgres", "postgresql"}:
        return f"postgresql+asyncpg://{rest}"
    return url


def _configure_ryuk() -> None:
    """Disable Ryuk when its image isn't here (it can't be pulled air-gapped); an explicit setting wins."""
    if RYUK_DISABLED_ENV in os.environ:
        return
    disabled = run_env(ryuk_available=local_image(ryuk_image()) is not None).get(RYUK_DISABLED_ENV)
    if disabled is None:
        return
    os.environ[RYUK_DISABLED_ENV] = disabled
    # testcontainers is imported only when a container is wanted (the URL variables need none).
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = disabled == "true"


def _start_errors() -> tuple[type[BaseException], ...]:
    """What a container start can fail with: engine/API errors, I/O and timeouts, testcontainers'
    RuntimeError-based start errors, and the Redis client's errors from the readiness ping."""
    from redis.exceptions import RedisError

    docker_error: type[BaseException] = docker_sdk().errors.DockerException
    return (docker_error, OSError, RuntimeError, RedisError)


def started_container(role: str, env_hint: str, make: Callable[[], Any]) -> Any:
    """Build and start a container, or skip/fail with one line (stopping whatever half-started)."""
    if ping() is None:
        unavailable(f"no Docker engine at {engine_host()} for {role}; {_HINT.format(env=env_hint)}")
    _configure_ryuk()
    container = None
    try:
        container = make()
        container.start()
    except _start_errors() as exc:  # no container here: say why (a programming error still raises)
        if container is not None:
            stop_container(container)
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        unavailable(f"{role} container did not start ({type(exc).__name__}: {detail}); {_HINT.format(env=env_hint)}")
    return container


def stop_container(container: Any) -> None:
    try:
        container.stop()
    except _start_errors() as exc:  # best effort: the session is ending anyway
        print(f"warning: could not stop container: {exc}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the whole session, as an asyncpg SQLAlchemy URL."""
    given = os.environ.get(DATABASE_URL_ENV, "").strip()
    if given:
        yield asyncpg_url(given)
        return

    def make() -> Any:
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(
            postgres_image().requested,
            username=PG_USER,
            password=PG_PASSWORD,
            dbname=PG_DB,
            driver="asyncpg",
        )
        # A throwaway database needs no fsync during initdb (≈3 s saved on a busy 2-core machine);
        # the official image honours the same variable.
        return container.with_env("POSTGRES_INITDB_ARGS", "--no-sync")

    container = started_container("PostgreSQL", DATABASE_URL_ENV, make)
    try:
        yield str(container.get_connection_url())
    finally:
        stop_container(container)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server for the whole session, as ``redis://host:port/0``."""
    given = os.environ.get(REDIS_URL_ENV, "").strip()
    if given:
        yield given
        return

    def make() -> Any:
        from testcontainers.community.redis import RedisContainer

        return RedisContainer(redis_image().requested)

    container = started_container("Redis", REDIS_URL_ENV, make)
    try:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        yield f"redis://{host}:{port}/0"
    finally:
        stop_container(container)
