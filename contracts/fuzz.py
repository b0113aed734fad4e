"""``harness contract fuzz``: the schemathesis CLI against a live server, with the committed contract.

The in-process pytest suite (tests/contract) is the deterministic CI budget; this is the same
contract and configuration against a real uvicorn process and a real pricing downstream, with
``--max-time`` for longer exploratory runs and JUnit XML for CI.

Harness rules apply: the app is started as a process and driven over HTTP; credentials are made
through the API; nothing from ``reference_app`` is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from harness import exitcodes
from harness.server import ServerConfig, ServerProcess

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "contracts" / "openapi.json"
CONFIG = ROOT / "contracts" / "schemathesis.toml"
DEFAULT_JUNIT = ROOT / "reports" / "junit" / "schemathesis.xml"
PASSWORD = "fuzz-password-123"  # noqa: S105 - a throwaway account on a throwaway server


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "fuzz",
        help="run schemathesis (CLI) against a live server with the committed contract",
        description="Start the reference app (uvicorn, temporary SQLite, limiter off) and a pricing "
        "downstream, create credentials through the API, then run `schemathesis run` with "
        "contracts/schemathesis.toml: all checks, all phases. Exit 1 if schemathesis finds a failure.",
    )
    parser.add_argument("--contract", type=Path, default=CONTRACT, help="the OpenAPI document under test")
    parser.add_argument("--config", type=Path, default=CONFIG, help="schemathesis.toml to start from")
    parser.add_argument(
        "--max-time",
        type=int,
        default=None,
        metavar="SECONDS",
        help="time budget for the whole run (default: the example budget decides)",
    )
    parser.add_argument("--max-examples", type=int, default=None, metavar="N", help="examples per operation")
    parser.add_argument("--seed", type=int, default=None, help="override the configured seed")
    parser.add_argument(
        "--phases",
        default="examples,coverage,fuzzing,stateful",
        help="comma-separated schemathesis phases (default: all four)",
    )
    parser.add_argument("--junit", type=Path, default=DEFAULT_JUNIT, help=f"JUnit XML output ({DEFAULT_JUNIT})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary server directory for debugging")
    parser.set_defaults(handler=cmd_fuzz)


def cmd_fuzz(args: argparse.Namespace) -> int:
    for path in (args.contract, args.config):
        if not path.is_file():
            raise exitcodes.HarnessError(f"no such file: {path}")
    if args.max_time is not None and args.max_time <= 0:
        raise exitcodes.HarnessError("--max-time must be positive")
    if args.max_examples is not None and args.max_examples < 1:
        raise exitcodes.HarnessError("--max-examples must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="harness-fuzz-"))
    try:
        with ExitStack() as stack:
            pricing = stack.enter_context(
                ServerProcess(
                    ServerConfig(
                        app="reference_app.downstream.app:create_pricing_app",
                        migrate_cmd=None,
                        ready_path="/health",
                        env={"PRICING_SEED": "7"},
                    ),
                    log_path=work / "pricing.log",
                )
            )
            app = stack.enter_context(
                ServerProcess(
                    ServerConfig(env=_app_env(work, pricing.base_url)),
                    log_path=work / "app.log",
                )
            )
            print(f"harness: app at {app.base_url}, pricing at {pricing.base_url}", file=sys.stderr, flush=True)
            token, api_key = _credentials(app.base_url)
            config = _config_with_auth(args.config, work / "schemathesis.toml", token, api_key)
            return _run_schemathesis(args, app.base_url, config)
    finally:
        if args.keep:
            print(f"harness: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _app_env(work: Path, pricing_url: str) -> dict[str, str]:
    return {
        "REFAPP_ENV": "test",
        "REFAPP_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'fuzz.db'}",
        "REFAPP_STORAGE_DIR": str(work / "files"),
        # A 429 would hide whatever the request would otherwise have revealed.
        "REFAPP_RATE_LIMIT_ENABLED": "false",
        "REFAPP_ACCESS_LOG": "false",
        "REFAPP_PRICING_URL": pricing_url,
        "REFAPP_JWT_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        "REFAPP_ARGON2_TIME_COST": "1",
        "REFAPP_ARGON2_MEMORY_COST_KIB": "1024",
    }


def _credentials(base_url: str) -> tuple[str, str]:
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        created = client.post("/api/v1/users", json={"email": email, "password": PASSWORD})
        token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        if created.status_code != 201 or token.status_code != 200:
            raise exitcodes.HarnessError(
                f"could not create credentials ({created.status_code}, {token.status_code})", exitcodes.INVALID_RUN
            )
        access = token.json()["access_token"]
        key = client.post(
            "/api/v1/api-keys",
            json={"name": "fuzz", "scopes": ["read", "write"]},
            headers={"Authorization": f"Bearer {access}"},
        )
        if key.status_code != 201:
            raise exitcodes.HarnessError(f"could not create an API key ({key.status_code})", exitcodes.INVALID_RUN)
    return access, key.json()["key"]


def _config_with_auth(source: Path, target: Path, token: str, api_key: str) -> Path:
    """A run-time copy of the config with credentials, so ignored_auth knows what to strip."""
    tomllib.loads(source.read_text())  # fail early, with tomllib's message, on a broken config
    auth = (
        "\n[auth.openapi.BearerAuth]\n"
        f"bearer = {json.dumps(token)}\n"
        "\n[auth.openapi.ApiKey]\n"
        f"api_key = {json.dumps(api_key)}\n"
    )
    target.write_text(source.read_text() + auth)
    return target


def _run_schemathesis(args: argparse.Namespace, base_url: str, config: Path) -> int:
    args.junit.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        str(args.contract),
        # No --checks on the command line: it would override the config's per-operation settings.
        # The config enables every check ([checks] enabled = true).
        "--url",
        base_url,
        "--phases",
        args.phases,
        "--report",
        "junit",
        "--report-junit-path",
        str(args.junit),
    ]
    if args.max_time is not None:
        argv += ["--max-time", str(args.max_time)]
    if args.max_examples is not None:
        argv += ["--max-examples", str(args.max_examples)]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    # PYTHONPATH so that `hooks = "contracts.schemathesis_hooks"` imports from a source checkout too.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, check=False)  # noqa: S603 - our own argv, no shell
    print(f"harness: schemathesis exited {done.returncode}; JUnit at {args.junit}", file=sys.stderr)
    if done.returncode == 0:
        return exitcodes.OK
    return exitcodes.GATE_FAILED if done.returncode == 1 else exitcodes.INVALID_RUN
