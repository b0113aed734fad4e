"""``prepare``: an engine plus the two service images, by the cheapest way that works here.

Per image: already there under the requested name → done (a warm run costs seconds); else
``docker pull`` with a short deadline; else build it locally (debootstrap base, once, shared by
both images). With ``pull=True`` (``--pull``) a local build already there is not the end: the
official image is pulled over it once a registry answers, and the local build is removed.
Ryuk is checked (and pulled where a registry answers) to decide whether the test run must disable it;
see ``harness.containers.runenv``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.containers.build import CONTENT_LABEL, build_service_image, check_honest_tag
from harness.containers.dockerops import LocalImage, local_image, remove_image, try_pull
from harness.containers.engine import EngineStatus, Progress, ensure_engine, stderr_progress
from harness.containers.images import BUILT_BY_LABEL, ImageSpec, configured_images
from harness.containers.rootfs import base_image_name, ensure_base_image
from harness.containers.runenv import run_env, ryuk_image

PULL_TIMEOUT_ENV = "HARNESS_PULL_TIMEOUT_S"
DEFAULT_PULL_TIMEOUT_S = 20.0

Source = Literal["cached", "pulled", "built", "replaced"]  # replaced: a local build gave way to a pull


@dataclass(frozen=True)
class ImageOutcome:
    role: str
    name: str
    source: Source
    built_by_harness: bool
    seconds: float


@dataclass
class PrepareReport:
    engine: EngineStatus
    images: list[ImageOutcome] = field(default_factory=list)
    base_image: str | None = None
    ryuk_image: str = ""
    ryuk_available: bool = False
    env: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pull_timeout_s() -> float:
    raw = os.environ.get(PULL_TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_PULL_TIMEOUT_S
    except ValueError:
        return DEFAULT_PULL_TIMEOUT_S


class _Preparer:
    """Holds what one run learnt: whether the registry answers, and the base image once built."""

    def __init__(self, *, rebuild: bool, progress: Progress, pull: bool = False, verbose: bool = False) -> None:
        self.rebuild, self.pull_over_local, self.verbose = rebuild, pull, verbose
        self.progress = progress
        self.registry_failed = False
        self.base: str | None = None

    def pull(self, name: str, otherwise: str) -> bool:
        if self.registry_failed:
            return False
        self.progress(f"docker pull {name} (≤{pull_timeout_s():.0f} s)…")
        pulled, why = try_pull(name, pull_timeout_s())
        if not pulled:
            self.registry_failed = True  # don't wait on an unreachable registry twice
            self.progress(f"pull failed: {why}; {otherwise}")
        return pulled

    def image(self, spec: ImageSpec) -> ImageOutcome:
        started = time.monotonic()
        source: Source
        existing = None if self.rebuild else local_image(spec.resolved)
        if existing is not None and self.pull_over_local and BUILT_BY_LABEL in existing.labels:
            source = self.replace_local(spec, existing.image_id)
        elif existing is not None:
            source = "cached"
            self.progress(f"{spec.resolved} is cached")
        elif not self.rebuild and self.pull(spec.resolved, "building it locally instead"):
            source = "pulled"
        else:
            check_honest_tag(spec)  # before minutes of debootstrap, not after
            if self.base is None:
                self.base = ensure_base_image(self.progress, rebuild=self.rebuild)
            build_service_image(spec, self.base, self.progress)
            source = "built"
        final = local_image(spec.resolved)
        built = final is not None and BUILT_BY_LABEL in final.labels
        if self.verbose and final is not None:
            self.progress(describe(final))
        return ImageOutcome(spec.role, spec.resolved, source, built, round(time.monotonic() - started, 1))

    def replace_local(self, spec: ImageSpec, local_id: str) -> Source:
        """The official image in place of the harness's build, if a registry answers; else keep the build."""
        if not self.pull(spec.resolved, "keeping the local build"):
            return "cached"
        now = local_image(spec.resolved)
        if now is None or BUILT_BY_LABEL in now.labels:
            # A registry answered with an image the harness built (a mirror of our own pushes): nothing changed.
            self.progress(f"{spec.resolved}: the registry's image is a harness build too; kept as is")
            return "cached"
        if now.image_id != local_id and remove_image(local_id):
            self.progress(f"{spec.resolved}: the official image replaced the local build (removed {local_id[:19]})")
        return "replaced"

    def superseded(self, names: list[str]) -> list[str]:
        """Ids of the harness-built images under ``names`` now (in that order), which a rebuild replaces."""
        found = (local_image(name) for name in names)
        return [image.image_id for image in found if image is not None and BUILT_BY_LABEL in image.labels]

    def ryuk(self) -> bool:
        name = ryuk_image()
        if local_image(name) is not None:
            return True
        return self.pull(name, "Ryuk will be disabled for the test run")


def describe(image: LocalImage) -> str:
    """``--verbose``'s line per image: which image exactly (id, size) and what it holds."""
    content = image.labels.get(CONTENT_LABEL) if BUILT_BY_LABEL in image.labels else None
    origin = f"built by the harness: {content}" if content else "official/registry image"
    return f"{image.name}: id {image.image_id[:19]}, {image.size_bytes / 1e6:.0f} MB, {origin}"


def prepare(
    *, allow_install: bool = True, rebuild: bool = False, pull: bool = False, progress: Progress = stderr_progress,
    verbose: bool = False,
) -> PrepareReport:
    """``verbose``: also report each image's id, size and content (``--verbose``)."""
    if rebuild and pull:
        raise ValueError("rebuild and pull are opposites")
    started = time.monotonic()
    report = PrepareReport(engine=ensure_engine(allow_install=allow_install, progress=progress))
    if verbose:
        progress(f"engine {report.engine.host}, Docker {report.engine.server_version}")
    preparer = _Preparer(rebuild=rebuild, progress=progress, pull=pull, verbose=verbose)
    specs = configured_images()
    names = [base_image_name(), *(spec.resolved for spec in specs)]
    before = preparer.superseded(names) if rebuild else []
    report.images = [preparer.image(spec) for spec in specs]
    if before:
        # Rebuilt images leave their predecessors untagged (≈470 MB each): remove those nothing uses.
        current = set(preparer.superseded(names))
        for image_id in reversed(before):  # the service images first, then the base they were built on
            if image_id not in current:
                remove_image(image_id)
    report.base_image = preparer.base
    report.ryuk_image = ryuk_image()
    report.ryuk_available = preparer.ryuk()
    report.env = run_env(ryuk_available=report.ryuk_available)
    report.seconds = round(time.monotonic() - started, 1)
    return report
