"""Build the service images (PostgreSQL, Redis) FROM the debootstrapped base, fully offline.

Each image is a ``Dockerfile.<role>`` plus an entrypoint kept in ``assets/`` and is tagged with
the name the tests will request (after the hub prefix), e.g. ``postgres:16``, so the stock
testcontainers ``PostgresContainer``/``RedisContainer`` start it unchanged. A label records
that the harness built it and what it really contains (Debian's PostgreSQL 15 / Redis 7.0),
since the tag is only the name the tests ask for.
"""

from __future__ import annotations

from pathlib import Path

from harness.containers.dockerops import run_docker
from harness.containers.engine import Progress
from harness.containers.images import BUILT_BY_LABEL, BUILT_BY_VALUE, ImageSpec

ASSETS = Path(__file__).with_name("assets")
CONTENT_LABEL = "io.fastapi-harness.content"
_CONTENT = {"postgres": "Debian bookworm postgresql-15", "redis": "Debian bookworm redis-server 7.0"}


def dockerfile(role: str) -> Path:
    return ASSETS / f"Dockerfile.{role}"


def build_service_image(spec: ImageSpec, base: str, progress: Progress) -> None:
    """``docker build`` the role's image FROM ``base`` and tag it ``spec.resolved``."""
    progress(f"docker build {spec.resolved} (FROM {base})…")
    run_docker(
        [
            "build",
            "--quiet",
            "--file",
            str(dockerfile(spec.role)),
            "--build-arg",
            f"BASE={base}",
            "--label",
            f"{BUILT_BY_LABEL}={BUILT_BY_VALUE}",
            "--label",
            f"{CONTENT_LABEL}={_CONTENT[spec.role]}",
            "--tag",
            spec.resolved,
            str(ASSETS),
        ],
        what=f"docker build {spec.resolved}",
    )
