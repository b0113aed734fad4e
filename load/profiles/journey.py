"""A user's journey through the API: log in once, then CRUD items, list with filters, files.

Weights: browsing (list with filters, read) dominates, writes are rarer, files rarest. Every
step checks status, required headers and the JSON shape; ``name=`` groups ids together.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from locust import FastHttpUser, between, events, task

from load.profiles import _common as c

CATEGORIES = ("books", "tools", "games", "food")
ITEM_KEYS = ("id", "name", "category", "price", "owner_id", "version")
FILE_KEYS = ("id", "filename", "size", "sha256")


@events.init_command_line_parser.add_listener
def _args(parser, **_):  # type: ignore[no-untyped-def]
    c.add_options(parser, c.SEEDED_OPTIONS)


class JourneyUser(FastHttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        env = self.environment
        token = c.login(self.client, c.option(env, "email", ""), c.option(env, "password", ""))
        self.headers = c.auth_header(token or "")
        self.ids = c.item_ids(env)
        self.rng = random.Random()

    @task(6)
    def list_filtered(self) -> None:
        category = self.rng.choice(CATEGORIES)
        query = f"?category={category}&min_price=1&max_price=500&sort=price&order=desc&limit=20"
        with self.client.get("/api/v1/items" + query, headers=self.headers, name="/items?filters",
                             catch_response=True) as resp:
            body = c.check(resp, keys=("items", "total", "limit", "offset"))
            if body is not None and not isinstance(body["items"], list):
                resp.failure("items is not a list")

    @task(4)
    def read(self) -> None:
        if not self.ids:
            return
        item_id = self.rng.choice(self.ids)
        with self.client.get(f"/api/v1/items/{item_id}", headers=self.headers, name="/items/[id]",
                             catch_response=True) as resp:
            c.check(resp, keys=ITEM_KEYS)

    @task(2)
    def crud(self) -> None:
        price = round(self.rng.uniform(1, 400), 2)
        payload: dict[str, Any] = {"name": f"journey-{self.rng.randrange(10**9)}", "description": "load journey",
                   "category": self.rng.choice(CATEGORIES), "price": price}
        with self.client.post("/api/v1/items", json=payload, headers=self.headers, name="/items",
                              catch_response=True) as resp:
            item = c.check(resp, status=201, keys=ITEM_KEYS)
            etag = c.header(resp, "ETag")
            if item is not None and etag is None:
                resp.failure("201 without ETag")
        if item is None or not isinstance(etag, str):
            return
        path = f"/api/v1/items/{item['id']}"
        with self.client.get(path, headers=self.headers, name="/items/[id]", catch_response=True) as resp:
            c.check(resp, keys=ITEM_KEYS)
        payload["price"] = round(price * 1.1, 2)
        with self.client.put(path, json=payload, headers={**self.headers, "If-Match": etag},
                             name="/items/[id]", catch_response=True) as resp:
            c.check(resp, keys=ITEM_KEYS)
        with self.client.delete(path, headers=self.headers, name="/items/[id]",
                                catch_response=True) as resp:
            c.check(resp, status=204)

    @task(1)
    def upload_download(self) -> None:
        data = (f"journey file {self.rng.randrange(10**9)}\n" * 64).encode()
        with self.client.post("/api/v1/files", headers=self.headers, name="/files",
                              files={"file": ("journey.txt", data, "text/plain")},
                              catch_response=True) as resp:
            meta = c.check(resp, status=201, keys=FILE_KEYS)
        if meta is None:
            return
        file_path = f"/api/v1/files/{meta['id']}"
        with self.client.get(file_path + "/content", headers=self.headers, name="/files/[id]/content",
                             catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
            elif hashlib.sha256(resp.content or b"").hexdigest() != meta["sha256"]:
                c.count("checks_failed")
                resp.failure("downloaded bytes differ from the upload")
            else:
                resp.success()
        with self.client.delete(file_path, headers=self.headers, name="/files/[id]",
                                catch_response=True) as resp:
            c.check(resp, status=204)
