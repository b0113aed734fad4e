"""``status``: what is there right now (engine, images, Ryuk), without changing anything."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.containers.build import CONTENT_LABEL
from harness.containers.dockerops import local_image
from harness.containers.engine import engine_host, ping
from harness.containers.images import BUILT_BY_LABEL, configured_images
from harness.containers.runenv import run_env, ryuk_image


@dataclass(frozen=True)
class ImageState:
    role: str
    name: str
    present: bool
    built_by_harness: bool = False
    content: str = ""
    size_mb: int = 0


@dataclass
class StatusReport:
    engine_host: str
    engine_version: str | None
    images: list[ImageState] = field(default_factory=list)
    ryuk_image: str = ""
    ryuk_available: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.engine_version is not None and all(i.present for i in self.images)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ready": self.ready}


def image_state(role: str, name: str) -> ImageState:
    found = local_image(name)
    if found is None:
        return ImageState(role, name, present=False)
    return ImageState(
        role,
        name,
        present=True,
        built_by_harness=BUILT_BY_LABEL in found.labels,
        content=found.labels.get(CONTENT_LABEL, ""),
        size_mb=found.size_bytes // 1_000_000,
    )


def status() -> StatusReport:
    report = StatusReport(engine_host=engine_host(), engine_version=ping())
    if report.engine_version is None:
        report.env = run_env(ryuk_available=False)
        return report
    report.images = [image_state(spec.role, spec.resolved) for spec in configured_images()]
    report.ryuk_image = ryuk_image()
    report.ryuk_available = local_image(report.ryuk_image) is not None
    report.env = run_env(ryuk_available=report.ryuk_available)
    return report
