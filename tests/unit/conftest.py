"""Unit layer: in-process only (ASGI transport, in-memory SQLite); no network, no containers."""
