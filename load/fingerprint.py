"""The environment a run was measured in, so that numbers are only compared like with like."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "gunicorn", "uvloop", "httptools", "sqlalchemy",
            "locust", "gevent", "geventhttpclient", "numpy", "psutil")
REPO_ROOT = Path(__file__).resolve().parent.parent


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_sha(cwd: Path = REPO_ROOT) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,  # noqa: S607
                                timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and len(sha) >= 7 else None


def fingerprint(backend: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "cpu_count": os.cpu_count() or 1,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "backend": backend,
        "git_sha": git_sha(),
        "hostname": socket.gethostname(),
        "implementation": sys.implementation.name,
    }
    try:
        import psutil

        env["memory_total_mb"] = round(psutil.virtual_memory().total / 2**20)
        env["load_average"] = [round(x, 2) for x in os.getloadavg()]
        freq = psutil.cpu_freq()
        if freq is not None:
            env["cpu_mhz"] = round(freq.current)
    except (ImportError, OSError, AttributeError):
        pass
    return env
