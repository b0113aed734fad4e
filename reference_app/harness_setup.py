"""What the harness needs from the reference app beyond its OpenAPI surface, as commands the
``[tool.harness]`` table in pyproject.toml names (the harness itself never imports this app):

- ``python -m reference_app.harness_setup seed URL --items N [--seed S]``: one fresh account and N
  items, made over HTTP like any client; prints the Locust options of the seeded profiles as JSON
  (``email``, ``password``, ``item_ids``). Declared as an experiment's ``setup``.
- ``python -m reference_app.harness_setup credentials URL``: a user, a bearer token and an API key
  for ``harness contract fuzz``; prints them as schemathesis ``[auth.openapi.*]`` settings (JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
from typing import Any

import httpx

CATEGORIES = ("books", "tools", "games", "food")
LOOPBACK = ("http://127.0.0.1:", "http://localhost:")


class SetupError(Exception):
    pass


def _expect(resp: httpx.Response, status: int, what: str) -> Any:
    if resp.status_code != status:
        raise SetupError(f"{what} answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()


def _account(client: httpx.Client, label: str) -> tuple[str, str, str]:
    email = f"{label}-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    _expect(client.post("/api/v1/users", json={"email": email, "password": password, "full_name": "Load Seed"}),
            201, "POST /api/v1/users")
    token = _expect(client.post("/api/v1/auth/token", data={"username": email, "password": password}),
                    200, "POST /api/v1/auth/token")["access_token"]
    return email, password, str(token)


def seed(base_url: str, *, items: int, seed: int = 0, label: str = "load", timeout_s: float = 30.0) -> dict[str, str]:
    """One fresh account and ``items`` items owned by it. Bounded: ``items`` requests, each timed out."""
    rng = random.Random(seed)  # noqa: S311 - reproducible prices for test data, not a secret
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        email, password, token = _account(client, label)
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for i in range(items):
            body = {"name": f"item-{i:04d}", "description": f"seeded item {i}",
                    "category": CATEGORIES[i % len(CATEGORIES)], "price": round(rng.uniform(1, 500), 2)}
            ids.append(str(_expect(client.post("/api/v1/items", json=body, headers=headers), 201,
                                   "POST /api/v1/items")["id"]))
    return {"email": email, "password": password, "item_ids": ",".join(ids)}


def credentials(base_url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """A bearer token and an API key (read + write), as schemathesis auth settings per security scheme."""
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        _, _, token = _account(client, "fuzz")
        key = _expect(client.post("/api/v1/api-keys", json={"name": "fuzz", "scopes": ["read", "write"]},
                                  headers={"Authorization": f"Bearer {token}"}), 201, "POST /api/v1/api-keys")
    return {"openapi": {"BearerAuth": {"bearer": token}, "ApiKey": {"api_key": key["key"]}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_app.harness_setup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    s = sub.add_parser("seed", help="an account and N items; prints the profiles' options as JSON")
    s.add_argument("url")
    s.add_argument("--items", type=int, default=50)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--label", default="load")
    c = sub.add_parser("credentials", help="a bearer token and an API key, as schemathesis auth JSON")
    c.add_argument("url")
    args = parser.parse_args(argv)
    if not args.url.startswith(LOOPBACK):
        print(f"refusing a non-loopback target {args.url}", file=sys.stderr)
        return 2
    try:
        out = (seed(args.url, items=args.items, seed=args.seed, label=args.label) if args.action == "seed"
               else credentials(args.url))
    except (SetupError, httpx.HTTPError) as exc:
        print(f"reference_app.harness_setup {args.action}: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
