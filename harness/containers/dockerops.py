"""Small Docker operations the harness needs: look an image up, pull with a deadline, run the CLI.

Image look-ups go through the docker SDK; pulls, imports and builds go through the ``docker``
CLI (it streams a tar from stdin and picks the builder by itself), which the ``docker.io``
package and Docker Desktop both provide.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from harness.containers.engine import client, docker_sdk
from harness.exitcodes import INVALID_RUN, HarnessError

REMOVE_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LocalImage:
    name: str
    image_id: str
    labels: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0


def local_image(name: str) -> LocalImage | None:
    """The image as the engine has it under ``name``, or None when it isn't there."""
    sdk = docker_sdk()
    docker_client = client()
    try:
        image = docker_client.images.get(name)
    except sdk.errors.ImageNotFound:
        return None
    finally:
        docker_client.close()
    attrs = image.attrs or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return LocalImage(
        name=name,
        image_id=str(image.id),
        labels={str(k): str(v) for k, v in labels.items()},
        size_bytes=int(attrs.get("Size") or 0),
    )


def remove_image(image_id: str) -> bool:
    """Remove an image by id if nothing uses it any more (best effort, for superseded builds)."""
    sdk = docker_sdk()
    docker_client = client(timeout_s=REMOVE_TIMEOUT_S)  # deleting ≈470 MB of layers is slow on a busy disk
    try:
        docker_client.images.remove(image_id)
    except (sdk.errors.DockerException, OSError):  # in use, tagged elsewhere, or slow: keep it
        return False
    finally:
        docker_client.close()
    return True


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise HarnessError(
            "the `docker` command-line client is missing (apt-get install docker.io, or Docker Desktop)",
            INVALID_RUN,
        )
    return path


def try_pull(name: str, timeout_s: float) -> tuple[bool, str]:
    """``docker pull`` bounded by ``timeout_s``; returns (pulled, one line saying why not)."""
    try:
        result = subprocess.run(
            [docker_cli(), "pull", "--quiet", name],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer from the registry within {timeout_s:.0f} s"
    if result.returncode == 0:
        return True, ""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return False, lines[-1] if lines else f"docker pull exited {result.returncode}"


def run_docker(args: list[str], *, what: str, timeout_s: float = 900) -> str:
    """Run ``docker ARGS``; raise a HarnessError with the output's tail when it fails."""
    result = subprocess.run([docker_cli(), *args], capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise HarnessError(f"{what} failed (exit {result.returncode}):\n{tail}", INVALID_RUN)
    return result.stdout
