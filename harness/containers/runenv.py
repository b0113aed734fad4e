"""The environment a test run should use with the prepared engine and images.

Ryuk, testcontainers' reaper, is itself an image (``testcontainers/ryuk``) that can't be pulled
where no registry is reachable. Decision: when the Ryuk image is not available locally, Ryuk is
disabled (``TESTCONTAINERS_RYUK_DISABLED=true``). That is safe here because the fixtures in
``tests/utils/containers.py`` stop their containers in a ``finally``; what is lost is only the
clean-up after a hard kill of pytest (SIGKILL, CI timeout), which leaves a container running
until ``docker rm -f``; labelled ``org.testcontainers=true``, they are easy to find. Where Ryuk
is available (a laptop with Docker Desktop that pulled it), it stays on. An explicit
``TESTCONTAINERS_RYUK_DISABLED`` set by the user always wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.containers.images import (
    POSTGRES_IMAGE_ENV,
    REDIS_IMAGE_ENV,
    apply_hub_prefix,
    configured_images,
    hub_prefix,
)

RYUK_DISABLED_ENV = "TESTCONTAINERS_RYUK_DISABLED"
RYUK_IMAGE_ENV = "RYUK_CONTAINER_IMAGE"
DEFAULT_RYUK_IMAGE = "testcontainers/ryuk:0.8.1"  # testcontainers 4.15's default


def ryuk_image(env: Mapping[str, str] | None = None) -> str:
    """The Ryuk image name Docker will be asked for (testcontainers prefixes it like any image)."""
    environ = os.environ if env is None else env
    name = environ.get(RYUK_IMAGE_ENV, "") or DEFAULT_RYUK_IMAGE
    return apply_hub_prefix(name, hub_prefix(environ))


def run_env(*, ryuk_available: bool, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables to export for the test run (only what differs from testcontainers' defaults)."""
    environ = os.environ if env is None else env
    postgres, redis = configured_images(environ)
    result = {POSTGRES_IMAGE_ENV: postgres.requested, REDIS_IMAGE_ENV: redis.requested}
    if RYUK_DISABLED_ENV in environ:
        result[RYUK_DISABLED_ENV] = environ[RYUK_DISABLED_ENV]
    elif not ryuk_available:
        result[RYUK_DISABLED_ENV] = "true"
    return result
