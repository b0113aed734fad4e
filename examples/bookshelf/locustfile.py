"""A plain Locust profile for the bookshelf example, as a team would write it.

It imports nothing from the harness and needs no options: `locust -f locustfile.py --host URL` runs
it as it is, and so does `harness load run -f locustfile.py`.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

TOKEN = os.environ.get("BOOKSHELF_TOKEN", "shelf-token")


class Reader(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.headers["X-Token"] = TOKEN
        title = f"Notes {random.randrange(1_000_000)}"  # noqa: S311 - test data, not a secret
        with self.client.post(
            "/api/books", json={"title": title, "author": "Locust", "pages": 120}, catch_response=True
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"could not add a book: {resp.status_code}")
                self.book_id = 1
                return
            self.book_id = int(resp.json()["id"])

    @task(5)
    def list_books(self) -> None:
        self.client.get("/api/books", params={"limit": 10})

    @task(3)
    def get_book(self) -> None:
        self.client.get(f"/api/books/{self.book_id}", name="/api/books/{book_id}")

    @task(1)
    def reading_plan(self) -> None:
        pace = random.randint(1, 100)  # noqa: S311 - test data, not a secret
        self.client.get("/api/shelf/reading-plan", params={"pages_per_day": pace})
