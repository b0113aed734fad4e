"""Make sure a Docker engine answers: reuse one, or install and start ``dockerd`` (Debian, root).

Order: (a) the engine ``DOCKER_HOST`` or ``/var/run/docker.sock`` points at; (b) on Debian or
Ubuntu as root, ``apt-get install docker.io`` if ``dockerd`` is missing, then start it detached
(its own session, so it outlives this command) and poll until it answers; (c) otherwise a
``HarnessError`` that says what to do. The docker SDK comes with the ``test`` extra
(testcontainers); it is imported lazily so ``harness serve`` never needs it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.exitcodes import INVALID_RUN, HarnessError

Progress = Callable[[str], None]

DEFAULT_SOCKET = "/var/run/docker.sock"
DOCKERD_LOG = Path("/var/log/dockerd.log")
DOCKERD_PIDFILE = Path("/var/run/docker.pid")
START_TIMEOUT_S = 60.0
_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# Where Debian puts system daemons and tools (dockerd, iptables, debootstrap, chroot). A CI runner or
# `env -i` often gives a PATH without them, and dockerd itself needs iptables on its PATH.
_SYSTEM_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def system_path() -> str:
    """The caller's PATH with the sbin directories appended where missing."""
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(parts + [d for d in _SYSTEM_DIRS if d not in parts])


def system_env() -> dict[str, str]:
    """The environment for system tools: the caller's, with :func:`system_path`."""
    return {**os.environ, "PATH": system_path()}


def which_system(name: str) -> str | None:
    """``shutil.which`` that also looks where Debian installs system daemons."""
    return shutil.which(name, path=system_path())


@dataclass(frozen=True)
class EngineStatus:
    reachable: bool
    host: str  # DOCKER_HOST or the default socket
    server_version: str | None = None
    installed_now: bool = False  # docker.io was installed by this call
    started_now: bool = False  # dockerd was started by this call


def stderr_progress(message: str) -> None:
    print(f"harness containers: {message}", file=sys.stderr, flush=True)


def docker_sdk() -> Any:
    """The ``docker`` module, or a HarnessError naming the extra to install."""
    try:
        # By name: an optional dependency (the test extra) that ships no type information.
        return importlib.import_module("docker")
    except ModuleNotFoundError as exc:
        raise HarnessError("the docker SDK is missing: install the test extra (pip install -e '.[test]')") from exc


def client(timeout_s: float = 60.0) -> Any:
    """A docker SDK client for the configured engine (raises if it can't connect)."""
    return docker_sdk().from_env(timeout=int(max(1, timeout_s)))


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST", "") or f"unix://{DEFAULT_SOCKET}"


def _unix_socket_answers(path: str, timeout_s: float) -> bool:
    """Whether something accepts connections on the socket (a stale socket file does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def ping(timeout_s: float = 5.0) -> str | None:
    """The engine's version if it answers a ping, else None."""
    host = engine_host()
    if host.startswith("unix://") and not _unix_socket_answers(host[len("unix://") :], timeout_s):
        return None  # checked first: the SDK leaks its socket when the connect fails
    sdk = docker_sdk()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            docker_client = sdk.from_env(timeout=int(max(1, timeout_s)))
            try:
                if not docker_client.ping():
                    return None
                return str(docker_client.version().get("Version", "unknown"))
            finally:
                docker_client.close()
        except (sdk.errors.DockerException, OSError):
            return None


def _is_debian_like() -> bool:
    return Path("/etc/debian_version").is_file() and shutil.which("apt-get") is not None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(cmd: list[str], *, timeout_s: float, what: str) -> None:
    env = {**system_env(), **_APT_ENV}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise HarnessError(f"{what} failed (exit {result.returncode}):\n{tail}", INVALID_RUN)


def apt_candidate_known(package: str) -> bool:
    """True when apt already knows a candidate version of ``package`` (no ``apt-get update`` needed)."""
    result = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, timeout=60, check=False)
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate":
            return value.strip() not in ("", "(none)")
    return False


def apt_install(packages: list[str], progress: Progress) -> None:
    """``apt-get install -y`` the packages, running ``apt-get update`` first only when apt lacks them."""
    if not all(apt_candidate_known(p) for p in packages):
        progress("apt-get update…")
        _run(["apt-get", "update"], timeout_s=600, what="apt-get update")
    progress(f"installing {' '.join(packages)}…")
    _run(
        ["apt-get", "install", "-y", *packages],
        timeout_s=900,
        what=f"apt-get install {' '.join(packages)}",
    )


def _cannot_start(reason: str) -> HarnessError:
    return HarnessError(
        f"no Docker engine is reachable ({engine_host()}) and {reason}. Start Docker "
        "(Docker Desktop, `sudo systemctl start docker`, or `sudo dockerd &`), or point "
        "DOCKER_HOST at a running engine, or skip containers by setting HARNESS_DATABASE_URL "
        "and HARNESS_REDIS_URL.",
        INVALID_RUN,
    )


def _log_tail(lines: int = 15) -> str:
    try:
        text = DOCKERD_LOG.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _live_dockerd_pid(pidfile: Path = DOCKERD_PIDFILE) -> int | None:
    """The pid in dockerd's pid file if that process is a dockerd; a stale file is removed.

    A dockerd killed hard (e.g. at the end of a CI run) leaves its pid file, and a new dockerd
    refuses to start while any process holds that pid, so a pid now used by something else
    must not block the start.
    """
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = ""
    if comm == "dockerd":
        return pid
    pidfile.unlink(missing_ok=True)
    return None


def _wait_for_engine(process: subprocess.Popen[bytes] | None, pid: int, progress: Progress, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = ping(timeout_s=2)
        if version is not None:
            progress(f"dockerd is up (pid {pid}, engine {version})")
            return version
        if process is not None and process.poll() is not None:
            raise HarnessError(
                f"dockerd exited with code {process.returncode}; last lines of {DOCKERD_LOG}:\n{_log_tail()}",
                INVALID_RUN,
            )
        time.sleep(0.5)
    raise HarnessError(
        f"dockerd did not answer within {timeout_s:.0f} s; last lines of {DOCKERD_LOG}:\n{_log_tail()}",
        INVALID_RUN,
    )


def start_dockerd(progress: Progress, timeout_s: float = START_TIMEOUT_S) -> str:
    """Start ``dockerd`` detached, logging to /var/log/dockerd.log; return the version once it answers."""
    running = _live_dockerd_pid()
    if running is not None:
        progress(f"dockerd (pid {running}) is running but not answering yet; waiting…")
        return _wait_for_engine(None, running, progress, timeout_s)
    dockerd = which_system("dockerd")
    if dockerd is None:
        raise _cannot_start(f"dockerd is not on PATH or in {', '.join(_SYSTEM_DIRS)}")
    progress(f"starting dockerd (log: {DOCKERD_LOG})…")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        process = subprocess.Popen(
            [dockerd],
            env=system_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # setsid: not killed with this command's process group
            close_fds=True,
        )
    return _wait_for_engine(process, process.pid, progress, timeout_s)


def ensure_engine(*, allow_install: bool = True, progress: Progress = stderr_progress) -> EngineStatus:
    """Return a reachable engine, installing/starting one locally when that is possible."""
    version = ping()
    if version is not None:
        return EngineStatus(True, engine_host(), version)
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host and docker_host != f"unix://{DEFAULT_SOCKET}":
        raise _cannot_start(f"DOCKER_HOST points elsewhere ({docker_host}), so no local dockerd is started")
    if not sys.platform.startswith("linux"):
        raise _cannot_start("the harness only starts an engine itself on Linux")
    installed_now = False
    if which_system("dockerd") is None:
        if not allow_install:
            raise _cannot_start("dockerd is not installed (and --no-install was given)")
        if not (_is_debian_like() and _is_root()):
            raise _cannot_start("dockerd is missing and is installed automatically only as root on Debian/Ubuntu")
        apt_install(["docker.io"], progress)
        installed_now = True
        version = ping()  # the package's own service start may have worked
        if version is not None:
            return EngineStatus(True, engine_host(), version, installed_now=True)
    if not _is_root():
        raise _cannot_start("dockerd is installed but only root can start it here")
    version = start_dockerd(progress)
    return EngineStatus(True, engine_host(), version, installed_now=installed_now, started_now=True)
