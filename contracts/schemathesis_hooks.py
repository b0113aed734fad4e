"""Schemathesis hooks shared by the pytest suite and ``harness contract fuzz``.

Only one, and it narrows no check: an ``Idempotency-Key`` means "the same request again", so a
generator that reuses a key with another body is testing a client bug (422 by design, covered by
tests/security). Real clients mint a fresh key per logical request; so does this hook.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

IDEMPOTENCY_HEADER = "Idempotency-Key"


@schemathesis.hook
def before_call(context: Any, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    headers = case.headers
    if headers:
        for name in list(headers):
            if name.lower() == IDEMPOTENCY_HEADER.lower():
                headers[name] = uuid.uuid4().hex
