"""Bookshelf: a small FastAPI service, shaped unlike the reference app on purpose.

The harness's tests use it as the "team's service" it has never seen: a module-level ``app`` instance
(no factory), stdlib ``sqlite3`` (no ORM, no migrations), no health route, one router mounted under
``/api`` behind an ``X-Token`` header, and one planted bug (see ``reading_plan``).

Settings are environment variables read at import, as many small services do:

- ``BOOKSHELF_DB``: the SQLite file (default ``bookshelf.db`` in the working directory);
- ``BOOKSHELF_TOKEN``: the value ``X-Token`` must carry (default ``shelf-token``);
- ``BOOKSHELF_JOURNAL_MODE``: SQLite's journal mode, ``wal`` (default) or ``delete``, which is the
  kind of environment difference an A/B load experiment compares.
"""

from __future__ import annotations

import math
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response, Security, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

DB_PATH = os.environ.get("BOOKSHELF_DB", "bookshelf.db")
TOKEN = os.environ.get("BOOKSHELF_TOKEN", "shelf-token")
JOURNAL_MODE = os.environ.get("BOOKSHELF_JOURNAL_MODE", "wal").lower()
if JOURNAL_MODE not in {"wal", "delete"}:
    raise RuntimeError(f"BOOKSHELF_JOURNAL_MODE must be 'wal' or 'delete', not {JOURNAL_MODE!r}")

DEFAULT_PAGES_PER_DAY = 30
# SQLite integers are 64-bit; ids beyond this range would overflow the driver instead of answering 404.
MAX_ID = 2**31 - 1
SEED_BOOKS = (
    ("The Pragmatic Programmer", "Hunt & Thomas", 352),
    ("Structure and Interpretation of Computer Programs", "Abelson & Sussman", 657),
    ("The Mythical Man-Month", "Brooks", 322),
)


def _connect() -> sqlite3.Connection:
    # FastAPI runs a sync dependency's set-up, the endpoint and the tear-down on possibly different
    # worker threads; each connection still serves one request at a time.
    conn = sqlite3.connect(DB_PATH, timeout=10, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _init_db() -> None:
    with closing(_connect()) as conn, conn:
        conn.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")  # validated above, not user input
        conn.execute(
            "CREATE TABLE IF NOT EXISTS books ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, author TEXT NOT NULL,"
            " pages INTEGER NOT NULL)"
        )
        if conn.execute("SELECT COUNT(*) FROM books").fetchone()[0] == 0:
            conn.executemany("INSERT INTO books (title, author, pages) VALUES (?, ?, ?)", SEED_BOOKS)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    _init_db()
    yield


def get_db() -> Iterator[sqlite3.Connection]:
    with closing(_connect()) as conn, conn:
        yield conn


token_header = APIKeyHeader(name="X-Token", auto_error=False, description="the shared token (BOOKSHELF_TOKEN)")


def require_token(token: Annotated[str | None, Security(token_header)]) -> None:
    # Compared as bytes: compare_digest refuses non-ASCII str, which a client controls.
    if token is None or not secrets.compare_digest(token.encode(), TOKEN.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong X-Token header", headers={"WWW-Authenticate": "X-Token"}
        )


Db = Annotated[sqlite3.Connection, Depends(get_db)]
BookId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _integral(value: object) -> object:
    # JSON Schema counts 352.0 as an integer; strict mode alone would refuse it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


class BookIn(BaseModel):
    # Strict: "352" is not an integer here, so the schema and the validation say the same thing.
    model_config = ConfigDict(strict=True, extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    author: Annotated[str, Field(min_length=1, max_length=100)]
    pages: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_integral)]


class Book(BaseModel):
    id: int
    title: str
    author: str
    pages: int


class ReadingPlan(BaseModel):
    books: int
    pages: int
    pages_per_day: int
    days: int


NOT_FOUND = {404: {"description": "No book with this id"}}
router = APIRouter(
    dependencies=[Depends(require_token)],
    responses={
        400: {"description": "A request body that is not JSON"},
        401: {"description": "Missing or wrong X-Token header"},
    },
)


def _book(row: sqlite3.Row) -> Book:
    return Book(id=row["id"], title=row["title"], author=row["author"], pages=row["pages"])


@router.get("/books", tags=["books"])
def list_books(db: Db, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[Book]:
    rows = db.execute("SELECT * FROM books ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [_book(row) for row in rows]


@router.post("/books", status_code=status.HTTP_201_CREATED, tags=["books"])
def add_book(db: Db, book: BookIn, response: Response) -> Book:
    cur = db.execute("INSERT INTO books (title, author, pages) VALUES (?, ?, ?)", (book.title, book.author, book.pages))
    # Committed before answering: the client may read the book back before the dependency's exit runs.
    db.commit()
    book_id = cur.lastrowid
    assert book_id is not None  # an INSERT on a rowid table always sets it
    response.headers["Location"] = f"/api/books/{book_id}"
    return Book(id=book_id, **book.model_dump())


@router.get("/books/{book_id}", responses=NOT_FOUND, tags=["books"])
def get_book(db: Db, book_id: BookId) -> Book:
    row = db.execute("SELECT * FROM books WHERE id = ?", (book_id,)).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such book")
    return _book(row)


@router.delete("/books/{book_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND, tags=["books"])
def remove_book(db: Db, book_id: BookId) -> Response:
    if db.execute("DELETE FROM books WHERE id = ?", (book_id,)).rowcount == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such book")
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/shelf/reading-plan", tags=["shelf"])
def reading_plan(
    db: Db,
    pages_per_day: Annotated[
        int, Query(ge=0, le=1000, description=f"Reading pace; 0 means the default pace ({DEFAULT_PAGES_PER_DAY}).")
    ] = DEFAULT_PAGES_PER_DAY,
) -> ReadingPlan:
    """How many days it takes to read the whole shelf at a given pace."""
    books, pages = db.execute("SELECT COUNT(*), COALESCE(SUM(pages), 0) FROM books").fetchone()
    # PLANTED BUG, on purpose: this app is a test target, and the harness's fuzzer must find it.
    # 0 is documented as valid ("the default pace") but is used as the divisor anyway, so
    # ?pages_per_day=0 answers 500 (ZeroDivisionError). The one-line fix, which the tests apply in
    # their temporary copy, is:
    #     pace = pages_per_day or DEFAULT_PAGES_PER_DAY
    pace = pages_per_day
    return ReadingPlan(books=books, pages=pages, pages_per_day=pace, days=math.ceil(pages / pace))


app = FastAPI(title="Bookshelf", version="0.1.0", lifespan=lifespan)
app.include_router(router, prefix="/api")


@app.exception_handler(StarletteHTTPException)
async def allow_every_method(request: Request, exc: StarletteHTTPException) -> Response:
    """A 405's ``Allow`` lists every method of the path (RFC 9110), not only the first route's."""
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        methods = {
            method
            for route in request.app.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods
        }
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, exc)
