"""``harness containers prepare|status``: get PostgreSQL/Redis images onto any machine.

``prepare`` makes sure a Docker engine runs (installing and starting ``dockerd`` on Debian as
root if needed), then makes the configured images available: cached, pulled, or built locally
from Debian packages where no registry is reachable. ``status`` reports without changing anything.
"""

from __future__ import annotations

import argparse
import json
import shlex

from harness import exitcodes
from harness.containers.engine import docker_sdk, stderr_progress
from harness.containers.prepare import PrepareReport, prepare
from harness.containers.status import StatusReport, status
from harness.progress import add_verbosity

_DESCRIPTION = (__doc__ or "").replace("``", "`")


def _print_env(env: dict[str, str]) -> None:
    print("environment for the test run:")
    for key, value in sorted(env.items()):
        print(f"  export {key}={shlex.quote(value)}")


def _print_prepare(report: PrepareReport) -> None:
    engine = report.engine
    done = (("installed docker.io", engine.installed_now), ("started dockerd", engine.started_now))
    notes = [note for note, happened in done if happened]
    extra = f"; {', '.join(notes)}" if notes else ""
    print(f"engine: {engine.host} (Docker {engine.server_version}{extra})")
    for image in report.images:
        origin = "built by the harness" if image.built_by_harness else "official/registry image"
        print(f"{image.role:<9} {image.name:<28} {image.source:<8} {origin:<24} {image.seconds:6.1f} s")
    ryuk = "available" if report.ryuk_available else "not available: the test run disables Ryuk"
    print(f"ryuk: {report.ryuk_image} {ryuk}")
    _print_env(report.env)
    print(f"ready in {report.seconds:.1f} s")


def _ignore(message: str) -> None:
    """--quiet: no progress lines; the summary (or --json) and errors still print."""


def _engine_errors() -> tuple[type[BaseException], ...]:
    docker_error: type[BaseException] = docker_sdk().errors.DockerException
    return (docker_error, OSError)  # the SDK's API errors; timeouts and refused connections


def _prepare(args: argparse.Namespace) -> int:
    try:
        report = prepare(allow_install=not args.no_install, rebuild=args.rebuild, pull=args.pull,
                         progress=_ignore if args.quiet else stderr_progress, verbose=args.verbose)
    except _engine_errors() as exc:
        raise exitcodes.HarnessError(f"the Docker engine failed a request: {exc}", exitcodes.INVALID_RUN) from exc
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_prepare(report)
    return exitcodes.OK


def _print_status(report: StatusReport) -> None:
    if report.engine_version is None:
        print(f"engine: {report.engine_host} not reachable (run `harness containers prepare`)")
        return
    print(f"engine: {report.engine_host} (Docker {report.engine_version})")
    for image in report.images:
        if not image.present:
            print(f"{image.role:<9} {image.name:<28} missing")
            continue
        origin = f"built by the harness: {image.content}" if image.built_by_harness else "official/registry"
        print(f"{image.role:<9} {image.name:<28} present  {image.size_mb} MB, {origin}")
    ryuk = "available" if report.ryuk_available else "not available: the test run disables Ryuk"
    print(f"ryuk: {report.ryuk_image} {ryuk}")
    _print_env(report.env)
    print("ready" if report.ready else "not ready (run `harness containers prepare`)")


def _status(args: argparse.Namespace) -> int:
    try:
        report = status()
    except _engine_errors() as exc:
        raise exitcodes.HarnessError(f"the Docker engine failed a request: {exc}", exitcodes.INVALID_RUN) from exc
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_status(report)
    return exitcodes.OK if report.ready else exitcodes.INVALID_RUN


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "containers",
        help="prepare the Docker engine and the PostgreSQL/Redis images (works air-gapped)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="containers_command", metavar="ACTION", required=True)

    prep = actions.add_parser(
        "prepare",
        help="ensure an engine and the images (cached → pull → local build)",
        description="Ensure a Docker engine and the images the integration suite requests. "
        "Progress goes to stderr; the summary (or --json) to stdout.",
        epilog=exitcodes.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prep.add_argument(
        "--no-install", action="store_true", help="never apt-get install anything (docker.io, debootstrap)"
    )
    how = prep.add_mutually_exclusive_group()
    how.add_argument("--rebuild", action="store_true", help="build the images locally even if present (no pull)")
    how.add_argument("--pull", action="store_true",
                     help="replace local builds with the official images when a registry answers (else keep them)")
    prep.add_argument("--json", action="store_true", help="print a JSON report instead of the summary")
    add_verbosity(prep, verbose_help="also print each image's id, size and content, and the engine's address")
    prep.set_defaults(handler=_prepare)

    stat = actions.add_parser(
        "status",
        help="report the engine and images without changing anything (exit 3 if not ready)",
        epilog=exitcodes.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stat.add_argument("--json", action="store_true", help="print a JSON report")
    stat.set_defaults(handler=_status)
