"""The reference app's live OpenAPI document, and its one deterministic serialisation.

The schema is built from ``create_app(Settings(...))`` with fixed settings and with every
``REFAPP_*`` variable hidden while it is built, so the committed contract does not depend on
whoever's shell or CI runner produced it.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

from harness.exitcodes import INVALID_RUN, HarnessError

ENV_PREFIX = "REFAPP_"
# The only two names the harness may use from the app (see docs/api-surface.md). They are looked up
# by name so that type-checking the harness does not type-check an app that is mid-change.
APP_FACTORY = ("reference_app.main", "create_app")
APP_SETTINGS = ("reference_app.core.config", "Settings")


class _App(Protocol):
    def openapi(self) -> dict[str, Any]: ...


def _load(module: str, name: str) -> Callable[..., Any]:
    try:
        return cast(Callable[..., Any], getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError) as exc:
        raise HarnessError(f"cannot import {module}.{name} from the reference app: {exc}", INVALID_RUN) from exc


@contextmanager
def isolated_environment(prefix: str = ENV_PREFIX) -> Iterator[None]:
    saved = {key: value for key, value in os.environ.items() if key.startswith(prefix)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def live_schema() -> dict[str, Any]:
    """``create_app(Settings(env="test", ...)).openapi()``, independent of the environment."""
    settings_class = _load(*APP_SETTINGS)
    create_app = cast(Callable[[Any], _App], _load(*APP_FACTORY))
    with isolated_environment(), tempfile.TemporaryDirectory(prefix="contract-export-") as scratch:
        settings = settings_class(
            env="test",
            database_url="sqlite+aiosqlite:///:memory:",
            redis_url=None,
            storage_dir=scratch,
            otel_exporter="none",
            docs_enabled=True,
        )
        return create_app(settings).openapi()


def serialize(document: dict[str, Any]) -> str:
    """Sorted keys, two-space indent, trailing newline: byte-identical for identical schemas."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
