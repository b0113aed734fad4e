"""Structured JSON logs: one object per line, each carrying the request id of its request."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

from pydantic_core import to_json

from reference_app.core.context import request_id_var

_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Credentials that travel in a query string (the websocket's ``?token=``: browsers can't set headers on
# the handshake). The servers log the path *with* its query: uvicorn's "WebSocket /…?token=…
# [accepted]" line is on uvicorn.error, so --no-access-log does not silence it.
_QUERY_SECRET = re.compile(r"(?i)([?&](?:token|access_token|refresh_token|api_key|client_secret)=)[^&\s\"']+")
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")


def redact(text: str) -> str:
    return _QUERY_SECRET.sub(r"\1[redacted]", text)


class RedactQuerySecrets(logging.Filter):
    """Masks credential query parameters in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record. It runs once per request for the access line, so it is kept lean:
    pydantic-core's serializer (about five times ``json.dumps`` on these small objects; anything it
    can't encode becomes ``str()``, as ``default=str`` did) and a timestamp whose seconds part is
    formatted once per second."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        """``2026-12-05T01:26:00.123+00:00``: ISO 8601 in UTC, to the millisecond."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        # The extras, found by a set difference rather than a test per attribute (a record has ~25),
        # in name order.
        attributes = record.__dict__
        for key in sorted(attributes.keys() - _RESERVED):
            if not key.startswith("_"):
                payload[key] = attributes[key]
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:  # log.info(..., stack_info=True): where the call came from
            payload["stack"] = self.formatStack(record.stack_info)
        return to_json(payload, fallback=str).decode()


def configure_logging(level: str) -> None:
    """Idempotent: tests build many apps in one process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("refapp")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in server_logger.filters):
            server_logger.addFilter(RedactQuerySecrets())
