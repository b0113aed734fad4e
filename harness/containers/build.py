"""Build the service images (PostgreSQL, Redis) FROM the debootstrapped base, fully offline.

Each image is a ``Dockerfile.<role>`` plus an entrypoint kept in ``assets/`` and is tagged with
the name the tests will request (after the hub prefix), e.g. ``postgres:15``, so the stock
testcontainers ``PostgresContainer``/``RedisContainer`` start it unchanged. The tag must name what
the image holds: a versioned tag whose major version is not the one Debian ships (``postgres:16``
from bookworm's PostgreSQL 15) is refused, not built. A label records that the harness built it
and from which packages.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.containers.dockerops import run_docker
from harness.containers.engine import Progress
from harness.containers.images import BUILT_BY_LABEL, BUILT_BY_VALUE, POSTGRES_IMAGE_ENV, REDIS_IMAGE_ENV, ImageSpec
from harness.exitcodes import USAGE, HarnessError

ASSETS = Path(__file__).with_name("assets")
CONTENT_LABEL = "io.fastapi-harness.content"
_CONTENT = {"postgres": "Debian bookworm postgresql-15", "redis": "Debian bookworm redis-server 7.0"}
#: The major version a local build of each role holds (the packages in rootfs.PACKAGES).
LOCAL_MAJOR = {"postgres": "15", "redis": "7"}
_ENV = {"postgres": POSTGRES_IMAGE_ENV, "redis": REDIS_IMAGE_ENV}


def tag_of(name: str) -> str:
    """The tag of an image reference (``reg:5000/postgres:16`` -> ``16``; none -> ``latest``)."""
    last = name.rsplit("/", 1)[-1].split("@", 1)[0]
    return last.split(":", 1)[1] if ":" in last else "latest"


def check_honest_tag(spec: ImageSpec) -> None:
    """Refuse to tag a local build with a version it does not contain: ``postgres:16`` holding 15 would
    make every result that quotes the image name wrong. A tag that names no version (``ci``) is left
    to the user; ``latest`` claims the newest release, which a Debian build is not."""
    tag, major = tag_of(spec.resolved), LOCAL_MAJOR[spec.role]
    versioned = re.match(r"(\d+)", tag)
    if (versioned is None or versioned.group(1) == major) and tag != "latest":
        return
    raise HarnessError(
        f"cannot build {spec.resolved} locally: a local build holds {_CONTENT[spec.role]} (major version {major}). "
        f"Where a registry answers, `harness containers prepare` pulls the official image instead; "
        f"here, set {_ENV[spec.role]}={spec.requested.rsplit(':', 1)[0]}:{major}",
        USAGE)


def dockerfile(role: str) -> Path:
    return ASSETS / f"Dockerfile.{role}"


def build_service_image(spec: ImageSpec, base: str, progress: Progress) -> None:
    """``docker build`` the role's image FROM ``base`` and tag it ``spec.resolved``."""
    check_honest_tag(spec)
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
