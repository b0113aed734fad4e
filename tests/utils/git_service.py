"""A tiny FastAPI service in its own git repository, for ``harness compare`` tests.

``make_service_repo`` commits a base revision (an item read) with a ``[tool.harness]`` table and a
plain locustfile; ``commit_app`` commits a changed app on top (a slower read, a broken import ...).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

APP = """
import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    SLOWreturn {"id": item_id}
"""

LOCUSTFILE = """
from locust import FastHttpUser, constant_throughput, task


class Reader(FastHttpUser):
    wait_time = constant_throughput(10)

    @task
    def read(self) -> None:
        self.client.get("/items/1", name="/items/[id]")
"""

PYPROJECT = """
[project]
name = "tiny-service"
version = "0.1.0"
dependencies = ["fastapi", "uvicorn"]

[tool.harness]
app = "app:app"
ready = "/openapi.json"

[tool.harness.compare]
experiment = "read"

[tool.harness.experiments.read]
locustfile = "locustfile.py"
users = 4

[[tool.harness.experiments.read.arms]]
name = "read"
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def app_source(sleep_ms: float = 0.0) -> str:
    return APP.replace("SLOW", f"await asyncio.sleep({sleep_ms / 1000!r})\n    " if sleep_ms else "")


def make_service_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    (path / "app.py").write_text(app_source())
    (path / "locustfile.py").write_text(LOCUSTFILE)
    (path / "pyproject.toml").write_text(PYPROJECT)
    (path / ".gitignore").write_text("reports/\n__pycache__/\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "base: an item read")
    return path


def commit_app(repo: Path, source: str, message: str) -> str:
    (repo / "app.py").write_text(source)
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")
