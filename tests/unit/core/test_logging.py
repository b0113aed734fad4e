"""The JSON log formatter: one object per line, exceptions and stack information kept."""

from __future__ import annotations

import json
import logging

from reference_app.core.logging import JsonFormatter


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(record)
    assert "\n" not in line  # one object per line, whatever the stack looks like
    parsed: dict[str, object] = json.loads(line)
    return parsed


def _record(**kw: object) -> logging.LogRecord:
    logger = logging.getLogger("refapp.test-logging")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning("where am I", **kw)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
    return records[0]


def _marker_function() -> logging.LogRecord:
    return _record(stack_info=True, extra={"route": "/x"})


def test_stack_info_is_kept() -> None:
    payload = _format(_marker_function())
    stack = payload["stack"]
    assert isinstance(stack, str)
    assert stack.startswith("Stack (most recent call last):")
    assert "_marker_function" in stack  # the caller's frame, not just a flag
    assert payload["route"] == "/x"
    assert "stack_info" not in payload  # the reserved attribute itself is not dumped raw


def test_no_stack_key_without_stack_info() -> None:
    assert "stack" not in _format(_record())
