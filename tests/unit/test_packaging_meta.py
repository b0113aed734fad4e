"""pyproject.toml's mypy override silences missing-import errors only for packages that really lack types."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ignored_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    overrides = config["tool"]["mypy"].get("overrides", [])
    return [module.removesuffix(".*") for o in overrides if o.get("ignore_missing_imports") for module in o["module"]]


def _ships_types(package: str) -> bool:
    """PEP 561: a ``py.typed`` marker in the package, or a ``<package>-stubs`` distribution."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed here")
    if any((Path(loc) / "py.typed").is_file() for loc in spec.submodule_search_locations):
        return True
    return importlib.util.find_spec(f"{package}-stubs".replace("-", "_")) is not None


def test_the_override_names_packages() -> None:
    assert _ignored_modules(), "the override is gone: then delete this test too"


@pytest.mark.parametrize("package", _ignored_modules())
def test_ignored_package_ships_no_type_information(package: str) -> None:
    assert not _ships_types(package), f"{package} ships py.typed: drop it from the mypy override"
