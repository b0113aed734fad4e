"""Structured JSON logs: one object per line, each carrying the request id of its request."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:  # log.info(..., stack_info=True): where the call came from
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str)


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
