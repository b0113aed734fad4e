"""Shared helpers for the Locust profiles: options, correctness checks, and counters.

Options come from ``HARNESS_<NAME>`` environment variables (the runner sets them per arm) or,
when a profile is run with the plain ``locust`` CLI, from the custom arguments it registers
(``--arm``, ``--io-ms`` ...; Locust forwards custom arguments from the master to its workers).

Counters (expected 429s, failed correctness checks, cache mismatches) are the harness's
(``load.counters``); readiness needs no call from a profile.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from gevent.lock import Semaphore
from locust import events

from load.counters import COUNTERS, count, reset_counters

__all__ = ["COUNTERS", "count", "reset_counters"]
_OPTIONS: dict[str, Any] = {}


def option(environment: Any, name: str, default: str) -> str:
    """``--name`` custom argument if Locust parsed one, else ``HARNESS_NAME`` env, else default."""
    parsed = getattr(environment, "parsed_options", None)
    value = getattr(parsed, name, None) if parsed is not None else None
    if value is not None:
        return str(value)
    return os.environ.get(f"HARNESS_{name.upper()}", default)


def add_options(parser: Any, specs: dict[str, tuple[str, str]]) -> None:
    """Register ``--<name>`` custom arguments, env var ``HARNESS_<NAME>``, shown in the web UI."""
    for name, (default, help_text) in specs.items():
        flag = "--" + name.replace("_", "-")
        if flag in getattr(parser, "_option_string_actions", {}):
            continue
        parser.add_argument(flag, dest=name, type=str, env_var=f"HARNESS_{name.upper()}",
                            default=default, help=help_text)


#: Custom arguments of the profiles that run on seeded data (the runner fills them from its seed step).
SEEDED_OPTIONS: dict[str, tuple[str, str]] = {
    "item_ids": ("", "comma-separated seeded item ids"),
    "email": ("", "seeded account e-mail"),
    "password": ("", "seeded account password"),
}
SEED_OPTION: dict[str, tuple[str, str]] = {"seed": ("0", "seed of the id sequence")}
_USERS_STARTED = [0]


def user_rng(environment: Any) -> random.Random:
    """A per-user RNG from the run's seed and the user's start order: every arm draws the same ids."""
    _USERS_STARTED[0] += 1
    return random.Random(int(option(environment, "seed", "0")) * 100_003 + _USERS_STARTED[0])


def required_headers() -> list[str]:
    """Headers every response must carry; ``HARNESS_REQUIRE_HEADERS=""`` for REFAPP_MIDDLEWARE=bare.

    Read once per test start (every round), from the custom argument or the environment.
    """
    headers: list[str] = _OPTIONS.get("require_headers", ["X-Request-ID"])
    return headers


def _on_test_start(environment: Any, **_: Any) -> None:
    raw = option(environment, "require_headers", "X-Request-ID")
    _OPTIONS["require_headers"] = [h.strip() for h in raw.split(",") if h.strip()]


def header(resp: Any, name: str) -> str | list[str] | None:
    headers = getattr(resp, "headers", None)
    if headers is None:
        return None
    value: str | list[str] | None = headers.get(name)
    return value  # geventhttpclient returns a list when the field is repeated


def single_valued(resp: Any, name: str) -> bool:
    value = header(resp, name)
    return isinstance(value, str) and value != "" and "," not in value


def json_body(resp: Any) -> Any:
    try:
        return json.loads(resp.content or b"")
    except (ValueError, TypeError):
        return None


def check(resp: Any, *, status: int | tuple[int, ...] = 200, keys: tuple[str, ...] = (),
          headers: tuple[str, ...] | None = None, json_kind: type = dict) -> Any:
    """Verify status, required headers and JSON shape; mark the response and return the body.

    ``resp`` is a Locust response opened with ``catch_response=True``. On any mismatch the request
    is marked failed (it then counts as an error in the results) and ``checks_failed`` is bumped.
    """
    statuses = (status,) if isinstance(status, int) else status
    if resp.status_code not in statuses:
        return _fail(resp, f"status {resp.status_code} not in {statuses}")
    for name in required_headers() if headers is None else headers:
        if header(resp, name) is None:
            return _fail(resp, f"missing header {name}")
    if resp.status_code == 204:
        resp.success()
        return None
    body = json_body(resp)
    if not isinstance(body, json_kind):
        return _fail(resp, f"body is not a JSON {json_kind.__name__}")
    if keys and isinstance(body, dict):
        missing = [k for k in keys if k not in body]
        if missing:
            return _fail(resp, f"body lacks {missing}")
    resp.success()
    return body


def _fail(resp: Any, reason: str) -> None:
    count("checks_failed")
    resp.failure(reason)
    return None


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: Any, email: str, password: str) -> str | None:
    """POST /api/v1/auth/token (OAuth2 form) once per user; returns the access token."""
    with client.post("/api/v1/auth/token", data={"username": email, "password": password},
                     name="setup: login", catch_response=True) as resp:
        body = check(resp, keys=("access_token", "token_type"))
    return None if body is None else str(body["access_token"])


_SHARED_TOKENS: dict[str, str] = {}
_SHARED_TOKENS_LOCK = Semaphore()


def shared_login(client: Any, email: str, password: str) -> str | None:
    """One login per account per Locust process, reused by every user and every round.

    For profiles whose users all act as one seeded account: logging each of them in again every
    round spent more server CPU on argon2 than the round measured (helper measurement: ~24 s per run).
    """
    with _SHARED_TOKENS_LOCK:  # the first user logs in, the others wait for its token
        token = _SHARED_TOKENS.get(email)
        if token is None:
            token = login(client, email, password)
            if token is not None:
                _SHARED_TOKENS[email] = token
        return token


def item_ids(environment: Any) -> list[str]:
    raw = option(environment, "item_ids", "")
    return [x.strip() for x in raw.split(",") if x.strip()]


events.test_start.add_listener(_on_test_start)  # type: ignore[no-untyped-call]
