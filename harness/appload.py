"""Import the target's app in the target's interpreter: is it importable, and its OpenAPI document.

Always a subprocess of ``target.python`` with ``app_dir`` first on ``sys.path``, so the app is built
with its own packages (possibly another venv than the harness's) and with only the target's env
(placeholders filled, nothing from the caller's shell): the exported contract does not depend on who
ran the export. An instance or a factory is told apart as uvicorn does: an object with ``openapi`` is
the app; any other callable is called with no arguments.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.exitcodes import HarnessError
from harness.server import build_env
from harness.target import Target, expand_env

IMPORT_TIMEOUT_S = 120.0
_SCRIPT = r"""
import importlib, json, sys
app_dir, spec, mode = sys.argv[1:4]
sys.path.insert(0, app_dir)
module, _, attr = spec.partition(":")
try:
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
except BaseException as exc:
    line = " ".join(f"{type(exc).__name__}: {exc}".split())
    sys.stdout.write(json.dumps({"error": f"cannot import {spec}: {line}"}) + "\n")
    sys.exit(0)
factory = not hasattr(obj, "openapi") and callable(obj)
if mode == "check":
    sys.stdout.write(json.dumps({"factory": factory}) + "\n")
    sys.exit(0)
app = obj() if factory else obj
if not hasattr(app, "openapi"):
    sys.stdout.write(json.dumps({"error": f"{spec} is not a FastAPI app (no .openapi())"}) + "\n")
    sys.exit(0)
sys.stdout.write(json.dumps({"openapi": app.openapi()}) + "\n")
"""


def _run(target: Target, mode: str) -> dict[str, Any]:
    app = target.require_app()
    with tempfile.TemporaryDirectory(prefix="harness-app-") as scratch:
        env = build_env(expand_env(target.env, workdir=Path(scratch), token="harness-export-" + "x" * 40))
        try:
            done = subprocess.run([target.python, "-c", _SCRIPT, str(target.app_dir), app, mode],
                                  cwd=scratch, env=env, capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HarnessError(f"cannot run {target.python} to import {app}: {exc}", exitcodes.USAGE) from exc
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        data = json.loads(last[0])
    except json.JSONDecodeError:
        err = " ".join(done.stderr.strip().splitlines()[-1:]) or f"exit {done.returncode}"
        raise HarnessError(f"cannot import {app}: {err}", exitcodes.USAGE) from None
    if not isinstance(data, dict):
        raise HarnessError(f"cannot import {app}: unexpected output", exitcodes.USAGE)
    if "error" in data:
        raise HarnessError(str(data["error"]), exitcodes.USAGE)
    return data


def check_importable(target: Target) -> bool:
    """Exit 2 with the import error in one line unless the app imports; returns whether it is a factory."""
    return bool(_run(target, "check")["factory"])


def openapi(target: Target) -> dict[str, Any]:
    document = _run(target, "openapi")["openapi"]
    if not isinstance(document, dict):
        raise HarnessError(f"{target.app}: openapi() did not return an object", exitcodes.USAGE)
    return document
