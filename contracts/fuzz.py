"""``harness contract fuzz``: the schemathesis CLI against a live service, every check and every phase.

Two ways to name the service:

- ``--url BASE_URL``: a running service; traffic goes to that URL only;
- ``--app`` (or the configured app): the harness serves the target itself (uvicorn, the target's
  ``env`` and ``fuzz.env``, its ``migrate`` command and any ``fuzz.services``), then fuzzes it.

The schema is ``--contract FILE`` (relative to the cwd), ``--schema URL``, the configured ``contract``,
or else the service's own ``/openapi.json``. Credentials: ``-H 'Name: value'`` and the configured
``[tool.harness.fuzz.auth]`` (static headers, a command, or a token endpoint; docs/target.md).
Exit 1 when schemathesis finds a failure; it prints each with a ``curl`` command that reproduces it.
Exit 3 when the service can't be had: a ``--url`` (or ``--schema`` URL) that does not answer, or a
served app that does not start.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness import exitcodes
from harness.progress import add_verbosity
from harness.reach import require_answer
from harness.target import Target, add_target_arguments, cwd_path, expand_env, run_token, target_from_args

DEFAULT_CONFIG = Path(__file__).resolve().parent / "schemathesis_default.toml"
DEFAULT_JUNIT = "reports/junit/schemathesis.xml"
AUTH_TIMEOUT_S = 120.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "fuzz",
        help="run schemathesis (every check and phase) against a live service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--contract", help="the OpenAPI document under test (a file, relative to the cwd)")
    source.add_argument("--schema", metavar="URL", help="the OpenAPI document's URL")
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="a header sent with every request (repeatable)",
    )
    parser.add_argument(
        "--config", help="schemathesis.toml to start from (default: the configured one, else every check and phase)"
    )
    parser.add_argument(
        "--max-time",
        type=int,
        default=None,
        metavar="SECONDS",
        help="time to spend: schemathesis repeats fuzzing and stateful testing until it is spent, so a run "
        "takes about this long, not at most (default: the example budget decides, --max-examples)",
    )
    parser.add_argument("--max-examples", type=int, default=None, metavar="N", help="examples per operation")
    parser.add_argument("--seed", type=int, default=None, help="override the configured seed")
    parser.add_argument(
        "--phases",
        default="examples,coverage,fuzzing,stateful",
        help="comma-separated schemathesis phases (default: all four)",
    )
    parser.add_argument("--junit", help=f"JUnit XML output (default {DEFAULT_JUNIT} under the target's root)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary server directory for debugging")
    add_verbosity(parser, verbose_help="also print the schemathesis command line (header values masked), the "
                  "configuration it reads and where the served app logs")
    add_target_arguments(parser, url=True)
    parser.set_defaults(handler=cmd_fuzz)


def _headers(values: list[str]) -> dict[str, str]:
    out = {}
    for raw in values:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise exitcodes.HarnessError(f"-H {raw!r}: expected 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def cmd_fuzz(args: argparse.Namespace) -> int:
    from harness.cli import require

    require("schemathesis")  # run as a subprocess; say which extra now
    if args.max_time is not None and args.max_time <= 0:
        raise exitcodes.HarnessError("--max-time must be positive")
    if args.max_examples is not None and args.max_examples < 1:
        raise exitcodes.HarnessError("--max-examples must be at least 1")
    if args.url and args.app:
        raise exitcodes.HarnessError("give --url (a running service) or --app (the harness serves it), not both")
    target = target_from_args(args)
    headers = _headers(args.header)
    config = cwd_path(args.config) if args.config else (target.fuzz.config or DEFAULT_CONFIG)
    schema: str | None = None
    if args.contract:
        schema = str(cwd_path(args.contract))
    elif args.schema:
        schema = args.schema
    elif target.contract is not None and target.contract.is_file():
        schema = str(target.contract)
    for path in (schema if schema and not schema.startswith(("http://", "https://")) else None, config):
        if path is not None and not Path(path).is_file():
            raise exitcodes.HarnessError(f"no such file: {path}")
    junit = cwd_path(args.junit) if args.junit else target.root / DEFAULT_JUNIT
    # A service that is down is a set-up failure (exit 3) now, not a run of every phase whose
    # connection errors schemathesis would report as failures found (exit 1).
    if args.url:
        require_answer(args.url, "--url")
    if schema is not None and schema.startswith(("http://", "https://")):
        require_answer(schema, "--schema")
    if args.verbose:
        print(f"harness: config {config} (a run-time copy adds the credentials' schemes)", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="harness-fuzz-"))
    try:
        with ExitStack() as stack:
            base_url = args.url.rstrip("/") if args.url else _serve(target, work, stack, quiet=args.quiet,
                                                                    verbose=args.verbose)
            auth = _auth(target, base_url)
            headers = {**target.fuzz.auth.headers, **auth.pop("headers", {}), **headers}
            run_config = _config_with_auth(Path(config), work / "schemathesis.toml", auth.get("openapi", {}))
            return _run_schemathesis(
                args, target, schema or f"{base_url}/openapi.json", base_url, run_config, headers, junit
            )
    finally:
        if args.keep:
            print(f"harness: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _serve(target: Target, work: Path, stack: ExitStack, *, quiet: bool = False, verbose: bool = False) -> str:
    """The target as a process: services first, migrate, then the app with env + fuzz.env."""
    from harness import appload
    from harness.server import ServerProcess, build_env, run_migrations
    from load.servers import server_config, service_process

    appload.check_importable(target)  # exit 2 with the import error in one line
    token = run_token()
    env = {
        **expand_env(target.env, workdir=work, token=token),
        **expand_env(target.fuzz.env, workdir=work, token=token),
    }
    for name, overrides in target.fuzz.services.items():
        srv, url_env = service_process(target, name, dict(overrides), work / f"service-{name}.log")
        stack.enter_context(srv)
        env[url_env] = srv.base_url
    if target.migrate:
        config = server_config(target, env, migrate=True)
        with (work / "migrate.log").open("ab") as log:
            run_migrations(config, build_env(env, passthrough=config.passthrough), log, work / "migrate.log")
    app = stack.enter_context(ServerProcess(server_config(target, env, kind="uvicorn"), log_path=work / "app.log"))
    if not quiet:
        print(f"harness: serving {target.app} at {app.base_url} for the fuzzer", file=sys.stderr, flush=True)
    if verbose:
        print(f"harness: the app logs to {work / 'app.log'} (--keep keeps it)", file=sys.stderr, flush=True)
    return app.base_url


def _auth(target: Target, base_url: str) -> dict[str, Any]:
    """Credentials from the configured command or token endpoint: ``{"headers": ..., "openapi": ...}``."""
    auth = target.fuzz.auth
    if auth.command:
        argv = target.command(auth.command, url=base_url)
        try:
            done = subprocess.run(  # noqa: S603 - the target's own configured command
                argv, cwd=target.app_dir, capture_output=True, text=True, timeout=AUTH_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise exitcodes.HarnessError(f"fuzz auth command failed: {exc}", exitcodes.INVALID_RUN) from exc
        if done.returncode != 0:
            raise exitcodes.HarnessError(
                f"fuzz auth command exited {done.returncode}: {done.stderr.strip()[-300:]}", exitcodes.INVALID_RUN
            )
        out = (done.stdout.strip().splitlines() or [""])[-1]
        try:
            data = json.loads(out)
        except json.JSONDecodeError:
            data = out  # a bare token
        if isinstance(data, dict):
            return {"headers": dict(data.get("headers", {})), "openapi": dict(data.get("openapi", {}))}
        return {"headers": {auth.header: f"{auth.scheme} {data}".strip()}}
    if auth.endpoint:
        import httpx  # only for a token endpoint; not on every `harness` start-up

        with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
            resp = client.post(auth.endpoint, data=auth.form, json=auth.json_body)
        token = resp.json().get(auth.token_field) if resp.status_code < 300 else None
        if not token:
            raise exitcodes.HarnessError(
                f"fuzz auth: POST {auth.endpoint} answered {resp.status_code} without "
                f"{auth.token_field!r}: {resp.text[:200]}",
                exitcodes.INVALID_RUN,
            )
        return {"headers": {auth.header: f"{auth.scheme} {token}".strip()}}
    return {}


def _config_with_auth(source: Path, target: Path, schemes: dict[str, Any]) -> Path:
    """A run-time copy of the config with per-scheme credentials, so ignored_auth knows what to strip."""
    tomllib.loads(source.read_text())  # fail early, with tomllib's message, on a broken config
    extra = "".join(
        f"\n[auth.openapi.{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        for name, values in schemes.items()
    )
    target.write_text(source.read_text() + extra)
    return target


def masked(argv: list[str]) -> list[str]:
    """``argv`` with every ``-H`` header's value replaced by ``***`` (credentials stay out of logs)."""
    return [f"{arg.partition(':')[0]}: ***" if i and argv[i - 1] == "-H" else arg for i, arg in enumerate(argv)]


def _run_schemathesis(
    args: argparse.Namespace,
    target: Target,
    schema: str,
    base_url: str,
    config: Path,
    headers: dict[str, str],
    junit: Path,
) -> int:
    junit.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        schema,
        # No --checks on the command line: it would override the config's per-operation settings.
        # The config enables every check ([checks] enabled = true).
        "--url",
        base_url,
        "--phases",
        args.phases,
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    if args.max_time is not None:
        argv += ["--max-time", str(args.max_time)]
    if args.max_examples is not None:
        argv += ["--max-examples", str(args.max_examples)]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    # The target's root on PYTHONPATH, so that a config's `hooks = "pkg.module"` imports from its checkout.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(target.root), os.environ.get("PYTHONPATH"))))}
    if args.verbose:
        print(f"harness: running {shlex.join(masked(argv))}", file=sys.stderr, flush=True)
    # --quiet: schemathesis's progress is held back; its report is shown when it found something.
    done = subprocess.run(argv, cwd=target.root, env=env, check=False,  # noqa: S603 - our own argv, no shell
                          capture_output=args.quiet, text=True)
    if args.quiet and done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
    print(f"harness: schemathesis exited {done.returncode}; JUnit at {junit}", file=sys.stderr)
    if done.returncode == 1 and not args.url:
        port = base_url.rsplit(":", 1)[-1]
        print(
            f"harness: the app was served at {base_url} for this run only; `harness serve --port {port}` "
            "serves it there again to replay the curl commands above",
            file=sys.stderr,
        )
    if done.returncode == 0:
        return exitcodes.OK
    return exitcodes.GATE_FAILED if done.returncode == 1 else exitcodes.INVALID_RUN
