"""Fixtures for report/gate tests: results files written from the synthetic factory."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.utils` lives in the repository, not in the installed package
    sys.path.insert(0, str(ROOT))

from tests.utils.results_factory import Arm, make_results  # noqa: E402

WriteJson = Callable[[str, Any], Path]


@pytest.fixture
def write_json(tmp_path: Path) -> WriteJson:
    def write(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_gates(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "gates.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def io_results() -> dict[str, Any]:
    """io profile: async is ~5x sync, tight noise, both arms with a bound."""
    return make_results(
        {
            "io_async": Arm(rps=500, p50_ms=20, bound_rps=600),
            "io_sync": Arm(rps=100, p50_ms=60, bound_rps=120),
        },
        profile="io",
        rounds=8,
        seed=1,
    )


@pytest.fixture
def io_results_path(write_json: WriteJson, io_results: dict[str, Any]) -> Path:
    return write_json("io.json", io_results)
