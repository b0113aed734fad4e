"""The environment a run was measured in, so that numbers are only compared like with like.

Package versions are read from the *target's* interpreter (the app may run in another venv than the
harness) and the git SHA is the target repository's, not the harness's.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.target import Target

PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "gunicorn", "uvloop", "httptools", "sqlalchemy",
            "locust", "gevent", "geventhttpclient", "numpy", "psutil")
HARNESS_ONLY = ("locust", "gevent", "geventhttpclient", "numpy", "psutil")  # the generator's side
_VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def target_package_versions(python: str, names: tuple[str, ...]) -> dict[str, str] | None:
    """Versions installed for ``python`` (another interpreter: a subprocess); None if unreadable."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return package_versions(names)
    try:
        done = subprocess.run([python, "-c", _VERSIONS_SCRIPT, *names], capture_output=True, text=True,  # noqa: S603
                              timeout=30, check=False)
        data = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_sha(cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,  # noqa: S607
                                timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and len(sha) >= 7 else None


def fingerprint(backend: str, target: Target | None = None) -> dict[str, Any]:
    app_side = tuple(p for p in PACKAGES if p not in HARNESS_ONLY)
    packages = package_versions(HARNESS_ONLY)
    if target is not None:
        packages.update(target_package_versions(target.python, app_side) or {})
    else:
        packages.update(package_versions(app_side))
    env: dict[str, Any] = {
        "cpu_count": os.cpu_count() or 1,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "backend": backend,
        "git_sha": git_sha(target.root) if target is not None else None,
        "target": ({"app": target.app, "python": target.python, "root": str(target.root)}
                   if target is not None else None),
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
