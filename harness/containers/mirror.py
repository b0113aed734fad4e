"""Find the Debian mirror this machine already uses, for ``debootstrap``.

The harness never names a mirror host itself: it reuses the one apt is configured with,
so an air-gapped machine that reaches only its own mirror (or an apt proxy) keeps working.
``HARNESS_DEBIAN_MIRROR`` overrides the discovery (e.g. on an Ubuntu host, whose own mirror
has no Debian suites).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "HARNESS_DEBIAN_MIRROR"
_USABLE_SCHEMES = ("http://", "https://", "file:/")


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source: a mirror URI and the suites and components it serves."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    """Split a deb822 document into stanzas of ``field -> value`` (continuation lines joined)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last_key: str | None = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last_key = {}, None
            continue
        if raw[0] in " \t":
            if last_key is not None:
                current[last_key] += " " + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if not sep:
            continue
        last_key = key.strip().lower()
        current[last_key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_deb822(text: str) -> list[AptSource]:
    """Parse a ``*.sources`` file; disabled stanzas and ``deb-src``-only stanzas are dropped."""
    sources: list[AptSource] = []
    for stanza in _deb822_stanzas(text):
        if "deb" not in stanza.get("types", "").split():
            continue
        if stanza.get("enabled", "yes").strip().lower() == "no":
            continue
        suites = tuple(stanza.get("suites", "").split())
        components = tuple(stanza.get("components", "").split())
        sources.extend(AptSource(uri, suites, components) for uri in stanza.get("uris", "").split())
    return sources


def parse_one_line(text: str) -> list[AptSource]:
    """Parse the classic one-line format: ``deb [opts] URI SUITE COMPONENT...``."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[len("deb ") :].strip()
        if rest.startswith("["):
            _opts, _sep, rest = rest[1:].partition("]")
        fields = rest.split()
        if len(fields) < 2:
            continue
        sources.append(AptSource(fields[0], (fields[1],), tuple(fields[2:])))
    return sources


def pick_mirror(sources: Iterable[AptSource], suite: str) -> str | None:
    """The URI of the first source serving ``suite``'s ``main``; else the first plain Debian-looking one.

    The fallback lets a host on a newer Debian release (whose sources name another suite)
    bootstrap ``suite`` from the same archive.
    """
    usable = [s for s in sources if s.uri.startswith(_USABLE_SCHEMES)]
    for source in usable:
        if suite in source.suites and (not source.components or "main" in source.components):
            return source.uri.rstrip("/")
    for source in usable:
        plain = [s for s in source.suites if "-" not in s and "/" not in s]
        if plain and "main" in source.components:
            return source.uri.rstrip("/")
    return None


def read_apt_sources(apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every ``deb`` source apt knows: ``sources.list.d/*.sources``, then the one-line files."""
    sources: list[AptSource] = []
    listd = apt_dir / "sources.list.d"
    for path in sorted(listd.glob("*.sources")) if listd.is_dir() else []:
        sources.extend(parse_deb822(path.read_text(encoding="utf-8", errors="replace")))
    one_line = [apt_dir / "sources.list"]
    one_line += sorted(listd.glob("*.list")) if listd.is_dir() else []
    for path in one_line:
        if path.is_file():
            sources.extend(parse_one_line(path.read_text(encoding="utf-8", errors="replace")))
    return sources


def find_mirror(
    suite: str,
    env: Mapping[str, str] | None = None,
    apt_dir: Path = Path("/etc/apt"),
) -> str | None:
    """The mirror to bootstrap ``suite`` from: ``$HARNESS_DEBIAN_MIRROR``, else apt's own, else None."""
    environ = os.environ if env is None else env
    override = environ.get(MIRROR_ENV, "").strip()
    if override:
        return override.rstrip("/")
    return pick_mirror(read_apt_sources(apt_dir), suite)
