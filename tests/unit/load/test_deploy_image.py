"""load/deploy/image.py: the build context is what the Dockerfile copies, read from the Dockerfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.exitcodes import HarnessError
from load.deploy.image import REPO, context_sources


def test_the_repositorys_dockerfile_names_its_context() -> None:
    # The directories the image installs, as this repository's Dockerfile COPYs them.
    assert set(context_sources(REPO / "Dockerfile")) == {
        "Dockerfile", "pyproject.toml", "README.md", "constraints.txt",
        "reference_app", "harness", "contracts", "load", "reports",
    }


def test_other_stages_globs_options_and_continuations(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Containerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim AS build\n"
        "COPY --chown=app:app pyproject.toml \\\n    src ./\n"
        "ADD extra.tar.gz /opt/\n"
        "COPY wheelhous[e] /wheels/\n"
        "COPY --from=build /opt/venv /opt/venv\n"
        "copy src ./again\n"
        "RUN echo COPY not-a-source /x\n"
    )
    assert context_sources(dockerfile) == ["Containerfile", "pyproject.toml", "src", "extra.tar.gz"]


def test_json_form_is_refused_not_misread(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nCOPY ["a b", "/dst/"]\n')
    with pytest.raises(HarnessError, match="JSON form"):
        context_sources(dockerfile)
