"""Local builds carry an honest tag, and ``prepare --pull`` swaps them for the official images (fake Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.containers import build, prepare
from harness.containers.dockerops import LocalImage
from harness.containers.engine import EngineStatus
from harness.containers.images import BUILT_BY_LABEL, BUILT_BY_VALUE, DEFAULT_POSTGRES_IMAGE, ImageSpec
from harness.exitcodes import USAGE, HarnessError

LOCAL = {BUILT_BY_LABEL: BUILT_BY_VALUE}


@pytest.mark.parametrize(("name", "tag"), [("postgres:15", "15"), ("reg:5000/hub/postgres:16", "16"),
                                           ("postgres", "latest"), ("pg@sha256:abc", "latest")])
def test_tag_of(name: str, tag: str) -> None:
    assert build.tag_of(name) == tag


@pytest.mark.parametrize("name", ["postgres:15", "postgres:15.8-bookworm", "reg.example.org/postgres:15", "pg:ci"])
def test_a_tag_that_names_what_is_inside_is_built(name: str) -> None:
    build.check_honest_tag(ImageSpec("postgres", name, ""))


@pytest.mark.parametrize("name", ["postgres:16", "postgres:latest", "postgres", "reg.example.org/postgres:17"])
def test_a_tag_naming_another_version_is_refused(name: str) -> None:
    with pytest.raises(HarnessError, match=r"holds Debian bookworm postgresql-15 \(major version 15\)") as info:
        build.check_honest_tag(ImageSpec("postgres", name, ""))
    assert info.value.exit_code == USAGE
    assert "HARNESS_POSTGRES_IMAGE=" in str(info.value)


def test_the_default_postgres_image_is_one_the_local_build_can_honour() -> None:
    build.check_honest_tag(ImageSpec("postgres", DEFAULT_POSTGRES_IMAGE, ""))
    build.check_honest_tag(ImageSpec("redis", "redis:7", ""))


class FakeDocker:
    """Images by name; ``registry`` says whether a pull answers (and with which id)."""

    def __init__(self, images: dict[str, LocalImage], registry: bool) -> None:
        self.images, self.registry = images, registry
        self.pulls: list[str] = []
        self.removed: list[str] = []
        self.built: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(prepare, "ensure_engine", lambda **_: EngineStatus(True, "unix:///fake", "27.0"))
        monkeypatch.setattr(prepare, "local_image", self.images.get)
        monkeypatch.setattr(prepare, "try_pull", self.pull)
        monkeypatch.setattr(prepare, "remove_image", self.remove)
        monkeypatch.setattr(prepare, "ensure_base_image", lambda progress, rebuild=False: "harness-base:fake")
        monkeypatch.setattr(prepare, "build_service_image", self.build)
        monkeypatch.delenv("HARNESS_POSTGRES_IMAGE", raising=False)
        monkeypatch.delenv("HARNESS_REDIS_IMAGE", raising=False)
        monkeypatch.delenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX", raising=False)

    def pull(self, name: str, timeout_s: float) -> tuple[bool, str]:
        self.pulls.append(name)
        if not self.registry:
            return False, "dial tcp: lookup registry-1.docker.io: no such host"
        self.images[name] = LocalImage(name=name, image_id=f"sha256:official-{name}", labels={})
        return True, ""

    def remove(self, image_id: str) -> bool:
        self.removed.append(image_id)
        return True

    def build(self, spec: ImageSpec, base: str, progress: Any) -> None:
        build.check_honest_tag(spec)
        self.built.append(spec.resolved)
        self.images[spec.resolved] = LocalImage(name=spec.resolved, image_id=f"sha256:local-{spec.role}", labels=LOCAL)


def _local_builds() -> dict[str, LocalImage]:
    return {name: LocalImage(name=name, image_id=f"sha256:local-{name}", labels=dict(LOCAL))
            for name in ("postgres:15", "redis:7", "testcontainers/ryuk:0.8.1")}


def test_pull_replaces_local_builds_once_a_registry_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker(_local_builds(), registry=True)
    docker.install(monkeypatch)
    report = prepare.prepare(pull=True, progress=lambda _line: None)
    assert [(i.name, i.source, i.built_by_harness) for i in report.images] == [
        ("postgres:15", "replaced", False), ("redis:7", "replaced", False)]
    assert docker.removed == ["sha256:local-postgres:15", "sha256:local-redis:7"]
    assert docker.images["postgres:15"].image_id == "sha256:official-postgres:15"


def test_pull_without_a_registry_keeps_the_local_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker(_local_builds(), registry=False)
    docker.install(monkeypatch)
    lines: list[str] = []
    report = prepare.prepare(pull=True, progress=lines.append)
    assert [(i.source, i.built_by_harness) for i in report.images] == [("cached", True), ("cached", True)]
    assert docker.pulls == ["postgres:15"]  # an unreachable registry is asked once, not once per image
    assert docker.removed == []
    assert any("keeping the local build" in line for line in lines)


def test_without_pull_a_local_build_is_simply_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker(_local_builds(), registry=True)
    docker.install(monkeypatch)
    report = prepare.prepare(progress=lambda _line: None)
    assert [i.source for i in report.images] == ["cached", "cached"]
    assert docker.pulls == []


def test_a_dishonest_tag_is_refused_before_the_base_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker({}, registry=False)
    docker.install(monkeypatch)
    monkeypatch.setenv("HARNESS_POSTGRES_IMAGE", "postgres:16")
    monkeypatch.setattr(prepare, "ensure_base_image", lambda *a, **k: pytest.fail("debootstrap started"))
    with pytest.raises(HarnessError, match=r"cannot build postgres:16 locally"):
        prepare.prepare(progress=lambda _line: None)
    assert docker.built == []
