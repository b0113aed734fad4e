"""The suite's one rule for a test whose tool or service is missing: skip locally, fail under ``CI=true``.

A CI run that skipped its integration, browser or workflow checks would be a green light on nothing,
while a laptop without Docker or Chromium should still run the rest of the suite.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail under CI=true; ``reason`` is one line."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
