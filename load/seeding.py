"""Seed the data a profile reads, over HTTP like any client: register, log in, create items."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from harness import exitcodes

CATEGORIES = ("books", "tools", "games", "food")


@dataclass(frozen=True, slots=True)
class SeedData:
    email: str
    password: str
    item_ids: tuple[str, ...]

    def profile_env(self) -> dict[str, str]:
        return {"HARNESS_EMAIL": self.email, "HARNESS_PASSWORD": self.password,
                "HARNESS_ITEM_IDS": ",".join(str(i) for i in self.item_ids)}


def _expect(resp: httpx.Response, status: int, what: str) -> Any:
    if resp.status_code != status:
        raise exitcodes.HarnessError(f"seeding: {what} answered {resp.status_code}: {resp.text[:300]}",
                                     exit_code=exitcodes.INVALID_RUN)
    return resp.json()


def seed(base_url: str, *, items: int, seed: int = 0, label: str = "load", timeout_s: float = 30.0) -> SeedData:
    """One fresh account and ``items`` items owned by it. Bounded: ``items`` requests, each timed out."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise exitcodes.HarnessError(f"refusing to seed a non-loopback target {base_url}")
    rng = random.Random(seed)
    email = f"{label}-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        _expect(client.post("/api/v1/users", json={"email": email, "password": password, "full_name": "Load Seed"}),
                201, "POST /api/v1/users")
        token = _expect(client.post("/api/v1/auth/token", data={"username": email, "password": password}),
                        200, "POST /api/v1/auth/token")["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for i in range(items):
            body = {"name": f"item-{i:04d}", "description": f"seeded item {i}",
                    "category": CATEGORIES[i % len(CATEGORIES)], "price": round(rng.uniform(1, 500), 2)}
            ids.append(str(_expect(client.post("/api/v1/items", json=body, headers=headers), 201,
                                   "POST /api/v1/items")["id"]))
    return SeedData(email=email, password=password, item_ids=tuple(ids))


def lab_config(base_url: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """GET /api/v1/lab/config (threadpool size, declared lab limit ...); None if unavailable."""
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        resp = client.get("/api/v1/lab/config")
    if resp.status_code != 200:
        return None
    data = resp.json()
    return data if isinstance(data, dict) else None
