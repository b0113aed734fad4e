"""Headless Chromium for browser tests: find it, or install Debian's ``chromium`` when allowed.

Policy (``find_or_install_chromium``):

* ``/usr/bin/chromium`` (or ``chromium``/``chromium-browser``/``google-chrome`` on PATH) is used as is;
* otherwise, when running as root and ``CI=true`` or ``HARNESS_INSTALL_BROWSER=1``, it runs
  ``apt-get install -y chromium`` (with one ``apt-get update`` first if the package is unknown);
* otherwise the test is skipped locally, and fails under ``CI=true`` (a CI job that silently
  skipped its browser checks would be a green light on nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.utils.ci import in_ci

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEFAULT_PATH = Path("/usr/bin/chromium")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
INSTALL_TIMEOUT_S = 900


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def find_chromium() -> Path | None:
    if DEFAULT_PATH.exists():
        return DEFAULT_PATH
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _apt_install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=INSTALL_TIMEOUT_S, check=False)
        subprocess.run(cmd, env=env, capture_output=True, timeout=INSTALL_TIMEOUT_S, check=False)


def find_or_install_chromium() -> Path:
    """The Chromium binary, installing it if policy allows; skips (or fails in CI) otherwise."""
    found = find_chromium()
    if found is not None:
        return found
    allowed = in_ci() or _truthy("HARNESS_INSTALL_BROWSER")
    if allowed and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install()
        found = find_chromium()
        if found is not None:
            return found
    message = (
        "headless Chromium not found (install the Debian package 'chromium', or set "
        "HARNESS_INSTALL_BROWSER=1 and run as root to let the tests install it)"
    )
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def run_chromium(
    chromium: Path, *args: str, profile_dir: Path, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throw-away profile; raises on a non-zero exit."""
    cmd = [str(chromium), *HEADLESS_FLAGS, f"--user-data-dir={profile_dir}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def dump_dom(chromium: Path, url: str, *, profile_dir: Path) -> str:
    """The DOM after load, serialised (``--dump-dom``)."""
    return run_chromium(chromium, "--dump-dom", url, profile_dir=profile_dir).stdout


def screenshot(chromium: Path, url: str, png: Path, *, profile_dir: Path, size: str = "1280,2400") -> Path:
    run_chromium(chromium, f"--screenshot={png}", f"--window-size={size}", url, profile_dir=profile_dir)
    return png
