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


def test_timestamp_is_iso_utc_to_the_millisecond() -> None:
    from datetime import UTC, datetime

    record = _record()
    formatter = JsonFormatter()
    for created in (record.created, 1_733_360_400.0, 1_733_360_400.9995, 1_733_360_401.25):
        record.created = created
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["ts"] == expected  # the cached second is not stale


def test_extras_that_json_cannot_encode_become_strings() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    payload = _format(_record(extra={"thing": Opaque(), "count": 3}))
    assert payload["thing"] == "opaque!"
    assert payload["count"] == 3
