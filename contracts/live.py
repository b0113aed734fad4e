"""The target's live OpenAPI document, and its one deterministic serialisation.

The document is built by importing the target's app in the target's interpreter with only the
target's env (``harness.appload``), so the committed contract does not depend on whoever's shell or
CI runner produced it.
"""

from __future__ import annotations

import json
from typing import Any

from harness import appload
from harness.target import Target


def live_schema(target: Target) -> dict[str, Any]:
    """``app.openapi()`` of the target (an instance, or what its factory returns)."""
    return appload.openapi(target)


def serialize(document: dict[str, Any]) -> str:
    """Sorted keys, two-space indent, trailing newline: byte-identical for identical schemas."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
