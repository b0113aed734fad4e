"""``python -m load.deploy.image [--target harness|app] [--tag NAME]``: build the repository's Dockerfile here.

Where the official ``python:3.11-slim`` can be pulled, that is the base and pip inside the build
uses PyPI. Where no registry answers (this project's CI), the base is the Debian image that
``harness containers prepare`` builds (``harness.containers.rootfs``), Python comes from Debian's
packages, and the Python dependencies come from a wheelhouse this machine's pip fills
(``pip wheel``), so the build needs neither a registry nor PyPI. The build context is a temporary
copy of what the Dockerfile COPYs, plus that wheelhouse.
"""

from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from harness import exitcodes

REPO = Path(__file__).resolve().parents[2]
OFFICIAL_BASE = "python:3.11-slim"
DEBIAN_PYTHON = "3.11.2"  # python3 in Debian bookworm, the offline base
# Named after the Dockerfile stage each builds (its ``app`` stage holds this repository's own service).
TAGS = {"harness": "fastapi-harness:local", "app": "fastapi-harness-app:local"}


def context_sources(dockerfile: Path) -> list[str]:
    """What the build context must hold: the Dockerfile and every local path its COPY/ADD lines name.

    Read from the Dockerfile instead of listed here, so what goes into the image is declared once.
    Left out: ``--from=`` copies (another stage's files) and glob sources, which this Dockerfile uses
    only for optional inputs the build makes itself (``wheelhous[e]``: the offline wheelhouse).
    """
    text = dockerfile.read_text().replace("\\\n", " ")  # line continuations
    sources = [dockerfile.name]
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD") or any(w.startswith("--from=") for w in words):
            continue
        if words[1].startswith("["):
            raise exitcodes.HarnessError(f"{dockerfile}: COPY/ADD in JSON form is not read here: {line.strip()}",
                                         exitcodes.USAGE)
        paths = [w for w in words[1:] if not w.startswith("--")][:-1]  # the last one is the destination
        sources += [p for p in paths if not glob.has_magic(p) and p not in sources]
    return sources


def _docker(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603,S607


def pick_base(progress: object = print) -> tuple[str, bool]:
    """(base image, offline): the official image if it is here or can be pulled, else the Debian one."""
    if _docker("image", "inspect", OFFICIAL_BASE).returncode == 0:
        return OFFICIAL_BASE, False
    if _docker("pull", OFFICIAL_BASE, timeout=120).returncode == 0:
        return OFFICIAL_BASE, False
    from harness.containers.rootfs import ensure_base_image

    return ensure_base_image(lambda line: print(line, flush=True)), True


def wheelhouse(dest: Path) -> None:
    """Every wheel the image installs, built or fetched by this machine's pip (its index and cache)."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), "-c",  # noqa: S603
                           str(REPO / "constraints.txt"), f"{REPO}[load,reference]"],
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode == 0:  # and the build backend, for installing the harness from its source
        requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), *requires],  # noqa: S603
                              capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise exitcodes.HarnessError(f"pip wheel failed: {done.stderr.strip()[-800:]}", exitcodes.INVALID_RUN)
    extra = marker_gated(dest)
    if extra:  # pip resolved for this interpreter; Debian's Python may need more (e.g. redis's async-timeout)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), "-c",  # noqa: S603
                        str(REPO / "constraints.txt"), *extra], capture_output=True, text=True, timeout=600, check=True)
    for own in dest.glob("fastapi_harness-*.whl"):
        own.unlink()  # the image installs the harness from the copied source


def marker_gated(dest: Path) -> list[str]:
    """Requirements of the wheels in ``dest`` that Debian bookworm's Python selects but are missing.

    ``pip wheel`` evaluates environment markers for the interpreter running it (3.11.7 here); the
    image's is Debian's (``DEBIAN_PYTHON``), so ``python_full_version < "3.11.3"`` differs."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename

    have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in dest.glob("*.whl")}
    env = {"python_full_version": DEBIAN_PYTHON, "python_version": DEBIAN_PYTHON.rsplit(".", 1)[0], "extra": ""}
    missing: set[str] = set()
    for wheel in dest.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            text = zf.read(meta).decode() if meta else ""
        for line in text.splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is not None and req.marker.evaluate(env) and canonicalize_name(req.name) not in have:
                missing.add(f"{req.name}{req.specifier}")
    return sorted(missing)


def build(target: str = "harness", tag: str | None = None) -> str:
    tag = tag or TAGS[target]
    base, offline = pick_base()
    with tempfile.TemporaryDirectory(prefix="harness-image-") as tmp:
        ctx = Path(tmp)
        for name in context_sources(REPO / "Dockerfile"):
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "runs"))
            else:
                shutil.copy2(src, ctx / name)
        if offline:
            wheelhouse(ctx / "wheelhouse")
        print(f"docker build --target {target} -t {tag} (FROM {base}{', offline wheelhouse' if offline else ''}) ...",
              flush=True)
        done = _docker("build", "--target", target, "--build-arg", f"BASE={base}", "-t", tag, str(ctx))
    if done.returncode != 0:
        raise exitcodes.HarnessError(f"docker build failed:\n{(done.stdout + done.stderr)[-2000:]}",
                                     exitcodes.INVALID_RUN)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.deploy.image", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=sorted(TAGS), default="harness")
    defaults = " / ".join(f"{tag} for {target}" for target, tag in TAGS.items())
    parser.add_argument("--tag", help=f"image name (default: {defaults})")
    args = parser.parse_args(argv)
    try:
        print(build(args.target, args.tag))
    except exitcodes.HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return exitcodes.OK


if __name__ == "__main__":
    sys.exit(main())
