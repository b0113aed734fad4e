"""Pure logic of ``harness.containers``: no Docker engine, no network, no apt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import exitcodes
from harness.cli import build_parser
from harness.containers import engine, mirror
from harness.containers.build import ASSETS, dockerfile
from harness.containers.images import (
    DEFAULT_POSTGRES_IMAGE,
    DEFAULT_REDIS_IMAGE,
    apply_hub_prefix,
    configured_images,
)
from harness.containers.rootfs import base_image_name
from harness.containers.runenv import DEFAULT_RYUK_IMAGE, run_env, ryuk_image

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # `tests.utils` lives in the repository, not in the installed package
    sys.path.insert(0, str(ROOT))

from tests.utils.containers import asyncpg_url  # noqa: E402

DEB822 = """\
Types: deb
# http://snapshot.example.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

ONE_LINE = """\
# deb http://commented.example.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example.org/debian/ bookworm main contrib
deb-src http://one.example.org/debian bookworm main
deb http://one.example.org/debian-security bookworm-security main
"""


# --- mirror discovery --------------------------------------------------------------------------


def test_deb822_sources_are_parsed_and_comments_ignored() -> None:
    sources = mirror.parse_deb822(DEB822)
    assert [s.uri for s in sources] == [
        "http://mirror.example.org/debian",
        "http://mirror.example.org/debian-security",
    ]
    assert sources[0].suites == ("bookworm", "bookworm-updates")
    assert sources[0].components == ("main",)


def test_deb822_skips_disabled_and_source_only_stanzas_and_splits_uris() -> None:
    text = (
        "Types: deb-src\nURIs: http://src.example.org/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://off.example.org/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n"
        "Types: deb deb-src\nURIs: http://a.example.org/debian\n http://b.example.org/debian\n"
        "Suites: bookworm\nComponents: main\n"
    )
    assert [s.uri for s in mirror.parse_deb822(text)] == [
        "http://a.example.org/debian",
        "http://b.example.org/debian",
    ]


def test_one_line_sources_handle_options_comments_and_deb_src() -> None:
    sources = mirror.parse_one_line(ONE_LINE)
    assert [(s.uri, s.suites) for s in sources] == [
        ("http://one.example.org/debian/", ("bookworm",)),
        ("http://one.example.org/debian-security", ("bookworm-security",)),
    ]
    assert sources[0].components == ("main", "contrib")


def test_pick_mirror_prefers_the_suite_and_strips_the_trailing_slash() -> None:
    sources = mirror.parse_one_line(ONE_LINE)
    assert mirror.pick_mirror(reversed(sources), "bookworm") == "http://one.example.org/debian"


def test_pick_mirror_falls_back_to_a_plain_suite_of_another_release() -> None:
    text = (
        "deb http://x.example.org/debian-security trixie-security main\ndeb http://x.example.org/debian trixie main\n"
    )
    assert mirror.pick_mirror(mirror.parse_one_line(text), "bookworm") == "http://x.example.org/debian"


def test_pick_mirror_ignores_cdrom_and_returns_none_without_candidates() -> None:
    assert mirror.pick_mirror(mirror.parse_one_line("deb cdrom:[Debian]/ bookworm main\n"), "bookworm") is None


def test_find_mirror_reads_the_apt_directory(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert mirror.find_mirror("bookworm", env={}, apt_dir=tmp_path) == "http://mirror.example.org/debian"


def test_find_mirror_reads_a_one_line_sources_list(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(ONE_LINE)
    assert mirror.find_mirror("bookworm", env={}, apt_dir=tmp_path) == "http://one.example.org/debian"


def test_find_mirror_env_override_wins(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(ONE_LINE)
    env = {mirror.MIRROR_ENV: "http://override.example.org/debian/"}
    assert mirror.find_mirror("bookworm", env=env, apt_dir=tmp_path) == "http://override.example.org/debian"


def test_find_mirror_without_sources_is_none(tmp_path: Path) -> None:
    assert mirror.find_mirror("bookworm", env={}, apt_dir=tmp_path) is None


# --- image names -------------------------------------------------------------------------------


def test_default_images_are_the_official_names() -> None:
    postgres, redis = configured_images({})
    assert (postgres.requested, postgres.resolved) == (DEFAULT_POSTGRES_IMAGE, "postgres:15")
    assert (redis.requested, redis.resolved) == (DEFAULT_REDIS_IMAGE, "redis:7")


def test_env_overrides_the_images() -> None:
    postgres, redis = configured_images({"HARNESS_POSTGRES_IMAGE": "pg:custom", "HARNESS_REDIS_IMAGE": " r:8 "})
    assert (postgres.resolved, redis.resolved) == ("pg:custom", "r:8")


def test_blank_override_keeps_the_default() -> None:
    assert configured_images({"HARNESS_POSTGRES_IMAGE": "  "})[0].requested == DEFAULT_POSTGRES_IMAGE


@pytest.mark.parametrize(
    ("prefix", "image", "expected"),
    [
        ("", "postgres:15", "postgres:15"),
        ("mirror.example.org/hub/", "postgres:15", "mirror.example.org/hub/postgres:15"),
        ("mirror.example.org/hub/", "testcontainers/ryuk:0.8.1", "mirror.example.org/hub/testcontainers/ryuk:0.8.1"),
        ("noslash", "redis:7", "noslashredis:7"),  # testcontainers-python concatenates as is
    ],
)
def test_hub_prefix_is_applied_like_testcontainers(prefix: str, image: str, expected: str) -> None:
    assert apply_hub_prefix(image, prefix) == expected


def test_prefix_changes_the_resolved_name_but_not_the_requested_one() -> None:
    postgres, _ = configured_images({"TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX": "reg.example.org/"})
    assert postgres.requested == "postgres:15"  # what the fixtures pass; testcontainers prefixes it
    assert postgres.resolved == "reg.example.org/postgres:15"  # what a local build is tagged as


def test_base_image_name_is_stable() -> None:
    assert re.fullmatch(r"harness-base:bookworm-[0-9a-f]{10}", base_image_name())
    assert base_image_name() == base_image_name()


# --- Ryuk and the test-run environment ---------------------------------------------------------


def test_ryuk_is_disabled_when_its_image_is_missing() -> None:
    env = run_env(ryuk_available=False, env={})
    assert env["TESTCONTAINERS_RYUK_DISABLED"] == "true"
    assert env["HARNESS_POSTGRES_IMAGE"] == "postgres:15"


def test_ryuk_stays_on_when_available_and_an_explicit_setting_wins() -> None:
    assert "TESTCONTAINERS_RYUK_DISABLED" not in run_env(ryuk_available=True, env={})
    env = {"TESTCONTAINERS_RYUK_DISABLED": "false"}
    assert run_env(ryuk_available=False, env=env)["TESTCONTAINERS_RYUK_DISABLED"] == "false"


def test_ryuk_image_follows_the_prefix_and_override() -> None:
    assert ryuk_image({}) == DEFAULT_RYUK_IMAGE
    env = {"TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX": "r.example.org/", "RYUK_CONTAINER_IMAGE": "ryuk:x"}
    assert ryuk_image(env) == "r.example.org/ryuk:x"


# --- fixtures' URL handling --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u:p@h/d", "postgresql+asyncpg://u:p@h/d"),
        ("postgresql+asyncpg://u:p@h/d", "postgresql+asyncpg://u:p@h/d"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
    ],
)
def test_database_url_gets_the_asyncpg_driver(given: str, expected: str) -> None:
    assert asyncpg_url(given) == expected


# --- engine decisions (no engine touched) ------------------------------------------------------


def test_a_reachable_engine_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ping", lambda timeout_s=5.0: "27.0")
    status = engine.ensure_engine(allow_install=False, progress=lambda _m: None)
    assert status.reachable
    assert status.server_version == "27.0"
    assert not status.started_now


def test_a_remote_docker_host_is_never_replaced_by_a_local_dockerd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ping", lambda timeout_s=5.0: None)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    with pytest.raises(exitcodes.HarnessError, match="DOCKER_HOST points elsewhere") as info:
        engine.ensure_engine(progress=lambda _m: None)
    assert info.value.exit_code == exitcodes.INVALID_RUN


def test_no_install_without_dockerd_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ping", lambda timeout_s=5.0: None)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("shutil.which", lambda _name, **_kw: None)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(exitcodes.HarnessError, match="--no-install"):
        engine.ensure_engine(allow_install=False, progress=lambda _m: None)


def _fake_sbin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory standing in for /usr/sbin, holding an executable ``dockerd``; PATH lacks it."""
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    dockerd = sbin / "dockerd"
    dockerd.write_text("#!/bin/sh\nexit 0\n")
    dockerd.chmod(0o755)
    monkeypatch.setattr(engine, "_SYSTEM_DIRS", (str(sbin),))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return sbin


def test_dockerd_in_sbin_is_found_when_path_lacks_sbin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `env -i PATH=/usr/bin:/bin` (a CI runner's PATH) once made `.ci/run` install docker.io and then
    # fail with "No such file or directory: 'dockerd'" (Debian installs it in /usr/sbin).
    sbin = _fake_sbin(tmp_path, monkeypatch)
    assert engine.which_system("dockerd") == str(sbin / "dockerd")
    assert engine.system_path().split(os.pathsep) == [str(tmp_path / "bin"), str(sbin)]


def test_dockerd_is_started_by_full_path_with_sbin_on_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sbin = _fake_sbin(tmp_path, monkeypatch)
    monkeypatch.setattr(engine, "DOCKERD_LOG", tmp_path / "dockerd.log")
    started: dict[str, object] = {}

    class FakePopen:
        pid = 4242

        def __init__(self, cmd: list[str], **kwargs: object) -> None:
            started["cmd"] = cmd
            started["env"] = kwargs.get("env")

    monkeypatch.setattr(engine.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(engine, "_wait_for_engine", lambda process, pid, progress, timeout_s: "27.0")
    monkeypatch.setattr(engine, "_live_dockerd_pid", lambda pidfile=engine.DOCKERD_PIDFILE: None)
    assert engine.start_dockerd(lambda _m: None) == "27.0"
    assert started["cmd"] == [str(sbin / "dockerd")]
    env = started["env"]
    assert isinstance(env, dict)
    assert str(sbin) in env["PATH"].split(os.pathsep)  # dockerd runs iptables from there


def test_unanswered_unix_socket_is_not_an_engine(tmp_path: Path) -> None:
    assert not engine._unix_socket_answers(str(tmp_path / "missing.sock"), 0.5)


# --- CLI wiring and shipped assets -------------------------------------------------------------


def test_cli_registers_prepare_and_status() -> None:
    parser = build_parser()
    args = parser.parse_args(["containers", "prepare", "--no-install", "--rebuild", "--json"])
    assert (args.no_install, args.rebuild, args.json) == (True, True, True)
    assert callable(args.handler)
    status_args = parser.parse_args(["containers", "status"])
    assert callable(status_args.handler)
    assert status_args.handler is not args.handler


def _engine_with_cached_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that answers and holds every image already (a warm machine), without Docker."""
    from harness.containers import dockerops, prepare

    monkeypatch.setattr(engine, "ping", lambda timeout_s=5.0: "27.0")
    labels = {prepare.BUILT_BY_LABEL: "fastapi-harness", prepare.CONTENT_LABEL: "PostgreSQL 15 (Debian 12)"}
    monkeypatch.setattr(
        prepare,
        "local_image",
        lambda name: dockerops.LocalImage(
            name, "sha256:" + "ab" * 32, labels if "postgres" in name else {}, 400_000_000
        ),
    )


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_prepare_quiet_prints_no_progress_but_the_summary(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    _engine_with_cached_images(monkeypatch)
    assert main(["containers", "prepare", "--no-install"]) == exitcodes.OK
    plain = capsys.readouterr()
    assert "is cached" in plain.err  # without the flag the progress lines are there
    assert main(["containers", "prepare", "--no-install", flag]) == exitcodes.OK
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert "ready in" in quiet.out  # the summary still prints
    assert "postgres" in quiet.out


def test_prepare_verbose_names_each_images_id_size_and_content(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    _engine_with_cached_images(monkeypatch)
    assert main(["containers", "prepare", "--no-install"]) == exitcodes.OK
    assert "sha256:abab" not in capsys.readouterr().err
    assert main(["containers", "prepare", "--no-install", "-v"]) == exitcodes.OK
    err = capsys.readouterr().err
    assert re.search(r"postgres:\S+: id sha256:abab\S*, 400 MB, built by the harness: PostgreSQL 15", err), err
    assert re.search(r"redis:\S+: id sha256:abab\S*, 400 MB, official/registry image", err), err
    assert "Docker 27.0" in err
    with pytest.raises(SystemExit):  # one or the other, as on every long-running command
        build_parser().parse_args(["containers", "prepare", "-q", "-v"])


@pytest.mark.parametrize("role", ["postgres", "redis"])
def test_dockerfiles_copy_only_shipped_files(role: str) -> None:
    text = dockerfile(role).read_text()
    for source in re.findall(r"^COPY\s+(\S+)\s", text, flags=re.MULTILINE):
        assert (ASSETS / source).is_file()
    assert "FROM ${BASE}" in text


@pytest.mark.parametrize("script", ["postgres-entrypoint.sh", "redis-entrypoint.sh"])
def test_entrypoints_are_valid_posix_sh(script: str) -> None:
    result = subprocess.run(["sh", "-n", str(ASSETS / script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_postgres_entrypoint_avoids_the_initdb_auth_pitfall() -> None:
    text = (ASSETS / "postgres-entrypoint.sh").read_text()
    assert "--auth-local=trust" in text
    assert "--auth-host=" in text
    assert "listen_addresses = '*'" in text


def test_a_stale_dockerd_pid_file_is_removed(tmp_path: Path) -> None:
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text("1")  # pid 1 exists but is not a dockerd
    assert engine._live_dockerd_pid(pidfile) is None
    assert not pidfile.exists()


def test_a_missing_dockerd_pid_file_means_no_dockerd(tmp_path: Path) -> None:
    assert engine._live_dockerd_pid(tmp_path / "docker.pid") is None
