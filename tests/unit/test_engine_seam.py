"""ARCHITECTURE.md rule 1: the engine (harness, contracts, load, reports) reaches an app only through
its target, so its code never names the reference app; only the reference app's own Locust profiles
(``load/profiles``) do."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ("harness", "contracts", "load", "reports")
OWN_PROFILES = ROOT / "load" / "profiles"
NAMES = re.compile(r"reference_app|REFAPP_|reference app", re.IGNORECASE)


def _engine_sources() -> list[Path]:
    return [p for package in ENGINE for p in sorted((ROOT / package).rglob("*.py"))
            if OWN_PROFILES not in p.parents and "__pycache__" not in p.parts]


def test_the_engine_names_no_app() -> None:
    sources = _engine_sources()
    assert len(sources) > 50  # the walk found the engine, not an empty tree
    named = [f"{p.relative_to(ROOT)}:{n}" for p in sources
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if NAMES.search(line)]
    assert not named, f"engine code names the reference app: {named}"
