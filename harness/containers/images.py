"""Which images the integration suite runs, and under which names Docker must know them.

The defaults are the official ``postgres:15`` / ``redis:7`` names, so a laptop with Docker
Desktop pulls the real images and the harness builds nothing. They are also what an air-gapped
machine can build honestly: Debian bookworm ships PostgreSQL 15 and Redis 7.0, and a local build
carries the name of what it contains (``harness.containers.build`` refuses ``postgres:16``).
``HARNESS_POSTGRES_IMAGE`` / ``HARNESS_REDIS_IMAGE`` override them. ``TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX`` is applied
exactly as testcontainers-python 4.x applies it (``DockerContainer.__init__`` does
``prefix + image``, plain concatenation, read once when testcontainers is imported), so an
image the harness builds locally is tagged with the very name testcontainers will ask for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

POSTGRES_IMAGE_ENV = "HARNESS_POSTGRES_IMAGE"
REDIS_IMAGE_ENV = "HARNESS_REDIS_IMAGE"
HUB_PREFIX_ENV = "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"
DEFAULT_POSTGRES_IMAGE = "postgres:15"
DEFAULT_REDIS_IMAGE = "redis:7"

# Label put on every image the harness builds, so `status` can tell a local build from a pull.
BUILT_BY_LABEL = "io.fastapi-harness.built-by"
BUILT_BY_VALUE = "harness containers prepare"

Role = Literal["postgres", "redis"]


@dataclass(frozen=True)
class ImageSpec:
    """One service image: what the tests request and what Docker must have after prefixing."""

    role: Role
    requested: str  # passed to PostgresContainer/RedisContainer (testcontainers adds the prefix)
    prefix: str

    @property
    def resolved(self) -> str:
        """The name Docker is asked for: the hub prefix, as testcontainers applies it."""
        return apply_hub_prefix(self.requested, self.prefix)


def apply_hub_prefix(image: str, prefix: str) -> str:
    """testcontainers-python's rule: the prefix is concatenated as is (give it a trailing ``/``)."""
    return prefix + image


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def hub_prefix(env: Mapping[str, str] | None = None) -> str:
    return _env(env).get(HUB_PREFIX_ENV, "")


def postgres_image(env: Mapping[str, str] | None = None) -> ImageSpec:
    environ = _env(env)
    name = environ.get(POSTGRES_IMAGE_ENV, "").strip() or DEFAULT_POSTGRES_IMAGE
    return ImageSpec("postgres", name, hub_prefix(environ))


def redis_image(env: Mapping[str, str] | None = None) -> ImageSpec:
    environ = _env(env)
    name = environ.get(REDIS_IMAGE_ENV, "").strip() or DEFAULT_REDIS_IMAGE
    return ImageSpec("redis", name, hub_prefix(environ))


def configured_images(env: Mapping[str, str] | None = None) -> tuple[ImageSpec, ImageSpec]:
    """The (postgres, redis) images the test run will request."""
    return postgres_image(env), redis_image(env)
