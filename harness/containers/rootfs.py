"""The shared base image for locally built service images: a debootstrapped Debian rootfs.

Used only when the official images can't be pulled (no registry, air-gapped CI). Debian's
packages are reachable wherever apt works, so ``debootstrap`` builds a minimal bookworm with
PostgreSQL 15 and Redis 7 from the mirror apt already uses, and ``docker import`` turns it into
``harness-base:<tag>``. The tag is derived from the suite and package list, so a second run
finds it and costs nothing. The rootfs lives in a temp dir that is always removed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.containers.dockerops import docker_cli, local_image
from harness.containers.engine import Progress, apt_install, system_env, which_system
from harness.containers.images import BUILT_BY_LABEL
from harness.containers.mirror import find_mirror
from harness.exitcodes import INVALID_RUN, HarnessError

SUITE = "bookworm"
PACKAGES = ("postgresql-15", "redis-server")
BASE_REPOSITORY = "harness-base"
_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# Dropped from the rootfs before import: caches that only make the image bigger.
_TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


def base_image_name() -> str:
    digest = hashlib.sha256(f"{SUITE}:{','.join(PACKAGES)}".encode()).hexdigest()[:10]
    return f"{BASE_REPOSITORY}:{SUITE}-{digest}"


def _ensure_debootstrap(progress: Progress) -> None:
    needed = [] if which_system("debootstrap") else ["debootstrap"]
    if not _KEYRING.is_file():
        needed.append("debian-archive-keyring")
    if needed:
        apt_install(needed, progress)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    try:
        lines = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _remove_rootfs(workdir: Path, progress: Progress) -> None:
    """Unmount whatever a failed debootstrap left mounted, then delete; never recurse into a mount."""
    for point in _mounts_under(workdir):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    left = _mounts_under(workdir)
    if left:
        progress(f"warning: not removing {workdir}: still mounted: {', '.join(left)}")
        return
    shutil.rmtree(workdir, ignore_errors=True)


def _debootstrap(rootfs: Path, mirror: str, progress: Progress) -> None:
    progress(f"debootstrap {SUITE} with {', '.join(PACKAGES)} (≈1.5 min, up to 6 on a busy machine)…")
    started = time.monotonic()
    debootstrap = which_system("debootstrap") or "debootstrap"
    cmd = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=system_env(), check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        log = rootfs / "debootstrap" / "debootstrap.log"
        if log.is_file():
            tail += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise HarnessError(f"debootstrap failed (exit {result.returncode}):\n{tail}", INVALID_RUN)
    progress(f"debootstrap done in {time.monotonic() - started:.0f} s")


def _import(rootfs: Path, name: str, progress: Progress) -> None:
    progress(f"docker import → {name}…")
    for relative in _TRIM:
        target = rootfs / relative
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        result = subprocess.run(
            [docker_cli(), "import", "--change", f"LABEL {BUILT_BY_LABEL}=harness-base", "-", name],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if tar.stdout is not None:
            tar.stdout.close()
        tar_rc = tar.wait()
    if result.returncode != 0 or tar_rc != 0:
        raise HarnessError(
            f"importing the rootfs failed (tar exit {tar_rc}, docker import exit {result.returncode}): "
            f"{result.stderr.strip()}",
            INVALID_RUN,
        )


def ensure_base_image(progress: Progress, *, rebuild: bool = False) -> str:
    """``harness-base:<tag>``, built with debootstrap + docker import unless it exists already."""
    name = base_image_name()
    if not rebuild and local_image(name) is not None:
        progress(f"base image {name} is cached")
        return name
    mirror = find_mirror(SUITE)
    if mirror is None:
        raise HarnessError(
            f"no Debian mirror for {SUITE} found in /etc/apt/sources.list(.d); set "
            "HARNESS_DEBIAN_MIRROR to the Debian archive URL this machine can reach",
            INVALID_RUN,
        )
    _ensure_debootstrap(progress)
    workdir = Path(tempfile.mkdtemp(prefix="harness-rootfs-"))
    try:
        rootfs = workdir / "rootfs"
        _debootstrap(rootfs, mirror, progress)
        _import(rootfs, name, progress)
    finally:
        _remove_rootfs(workdir, progress)
    return name
