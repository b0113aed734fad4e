"""Files: upload/download round trip, sanitization, size caps, batch, CSV import, ranges, ownership."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, SupportsIndex

import httpx
import pytest
from fastapi import FastAPI, UploadFile

from reference_app.core.config import Settings
from reference_app.core.errors import PayloadTooLarge, RangeNotSatisfiable
from reference_app.main import create_app
from reference_app.services import csv_import, storage
from tests.utils.factories import UserHandle, create_item, create_user

PAYLOAD = bytes(range(256)) * 4  # 1 KiB, every byte value


async def upload(client: httpx.AsyncClient, user: UserHandle, content: bytes = PAYLOAD,
                 name: str = "data.bin", content_type: str = "application/octet-stream") -> dict[str, Any]:
    response = await client.post("/api/v1/files", headers=user.headers, files={"file": (name, content, content_type)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def stored_files(app: FastAPI) -> list[Path]:
    root = Path(app.state.settings.storage_dir)
    return sorted(root.iterdir()) if root.exists() else []


async def test_upload_download_round_trip(client: httpx.AsyncClient, user: UserHandle, app: FastAPI) -> None:
    meta = await upload(client, user)
    assert meta["size"] == len(PAYLOAD)
    assert meta["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert meta["filename"] == "data.bin"
    assert stored_files(app) == [Path(app.state.settings.storage_dir) / meta["id"]]

    read = await client.get(f"/api/v1/files/{meta['id']}", headers=user.headers)
    assert read.status_code == 200
    assert read.json() == meta

    down = await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers)
    assert down.status_code == 200
    assert down.content == PAYLOAD
    assert down.headers["content-length"] == str(len(PAYLOAD))
    assert down.headers["etag"] == f'"{meta["sha256"]}"'
    assert down.headers["accept-ranges"] == "bytes"
    assert down.headers["x-content-type-options"] == "nosniff"
    assert down.headers["content-disposition"] == "attachment; filename=\"data.bin\"; filename*=UTF-8''data.bin"


async def test_full_download_not_gzipped(client: httpx.AsyncClient, user: UserHandle) -> None:
    # Re-encoding would break the Range offsets a resumed download counts in (SelectiveGZipMiddleware).
    meta = await upload(client, user, content=b"a" * 4096, content_type="text/plain")
    down = await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers | {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in down.headers
    assert down.headers["content-length"] == "4096"


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("evil\x00.txt", "evil.txt"),
    ("a\r\nSet-Cookie: x=1.txt", "aSet-Cookie: x=1.txt"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("..", "upload.bin"),
    ("", "upload.bin"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
])
def test_sanitize_filename(raw: str, expected: str) -> None:
    assert storage.sanitize_filename(raw) == expected


def raw_multipart(filename: bytes, content: bytes, boundary: str = "rawboundary9876") -> tuple[bytes, str]:
    """A hand-built body: httpx percent-escapes NUL/CR/LF in filenames, a hostile client need not."""
    body = (f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="file"; filename="'
            + filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content
            + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(("raw", "expected"), [
    (b"../../etc/passwd", "passwd"),
    (b"/var/../../etc/shadow", "shadow"),
    (b"evil\x00name.txt", "evilname.txt"),
    (b"tab\there\x1b[31m.txt", "tabhere[31m.txt"),
    ("r\u00e9sum\u00e9.txt".encode(), "r\u00e9sum\u00e9.txt"),
])
async def test_upload_sanitizes_client_filename(
    client: httpx.AsyncClient, user: UserHandle, app: FastAPI, raw: bytes, expected: str
) -> None:
    body, content_type = raw_multipart(raw, PAYLOAD)
    response = await client.post("/api/v1/files", headers=user.headers | {"Content-Type": content_type}, content=body)
    assert response.status_code == 201, response.text
    meta = response.json()
    assert meta["filename"] == expected
    # The name on disk is always the server's id, never anything from the client.
    assert [p.name for p in stored_files(app)] == [meta["id"]]
    down = await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers)
    assert down.content == PAYLOAD
    assert "/" not in down.headers["content-disposition"].split("filename=")[1]


async def test_crlf_in_filename_cannot_inject_headers(client: httpx.AsyncClient, user: UserHandle) -> None:
    meta = await upload(client, user, name="a\r\nX-Injected: 1.txt")
    assert "\r" not in meta["filename"]
    assert "\n" not in meta["filename"]
    down = await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers)
    assert "x-injected" not in down.headers


async def test_oversized_upload_with_content_length(
    make_settings: Callable[..., Settings], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(max_upload_bytes=2048))
    async with client_for(app) as client:
        owner = await create_user(client)
        response = await client.post("/api/v1/files", headers=owner.headers, files={"file": ("big.bin", b"x" * 4096)})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert stored_files(app) == []


async def test_oversized_upload_chunked_without_content_length(
    make_settings: Callable[..., Settings], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(max_upload_bytes=2048))
    boundary = "testboundary1234"

    async def body() -> AsyncIterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        for _ in range(16):
            yield b"y" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    async with client_for(app) as client:
        owner = await create_user(client)
        request = client.build_request(
            "POST", "/api/v1/files", content=body(),
            headers=owner.headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        response = await client.send(request)
    assert response.status_code == 413
    assert stored_files(app) == []


async def test_per_file_cap_removes_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "partial"
    upload_file = UploadFile(io.BytesIO(b"z" * (3 * storage.CHUNK_SIZE)), filename="x")
    with pytest.raises(PayloadTooLarge):
        await storage._write_stream(upload_file, target, max_bytes=storage.CHUNK_SIZE + 1)
    assert not target.exists()


async def test_batch_upload(client: httpx.AsyncClient, user: UserHandle, app: FastAPI) -> None:
    files = [("files", (f"f{i}.txt", f"content {i}".encode(), "text/plain")) for i in range(3)]
    response = await client.post("/api/v1/files/batch", headers=user.headers, files=files)
    assert response.status_code == 201, response.text
    metas = response.json()
    assert [m["filename"] for m in metas] == ["f0.txt", "f1.txt", "f2.txt"]
    assert [m["sha256"] for m in metas] == [hashlib.sha256(f"content {i}".encode()).hexdigest() for i in range(3)]
    assert len(stored_files(app)) == 3


async def test_batch_upload_too_many_files(
    make_settings: Callable[..., Settings], client_for: Callable[..., Any]
) -> None:
    app = create_app(make_settings(max_upload_files=2))
    async with client_for(app) as client:
        owner = await create_user(client)
        files = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)]
        response = await client.post("/api/v1/files/batch", headers=owner.headers, files=files)
    assert response.status_code == 413
    assert stored_files(app) == []


async def test_upload_requires_auth(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/files", files={"file": ("a.txt", b"a")})
    assert response.status_code == 401


# ---- ranges and disposition --------------------------------------------------------------------

@pytest.fixture
async def file_id(client: httpx.AsyncClient, user: UserHandle) -> str:
    meta = await upload(client, user)
    return str(meta["id"])


@pytest.mark.parametrize(("spec", "start", "end"), [
    ("bytes=0-99", 0, 99),
    ("bytes=1000-", 1000, 1023),
    ("bytes=-24", 1000, 1023),
    ("bytes=1000-5000", 1000, 1023),
    ("bytes=-5000", 0, 1023),
])
async def test_range_206(
    client: httpx.AsyncClient, user: UserHandle, file_id: str, spec: str, start: int, end: int
) -> None:
    response = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers | {"Range": spec})
    assert response.status_code == 206
    assert response.content == PAYLOAD[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(PAYLOAD)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=0-0,5-6", " BYTES = 2000- "])
async def test_range_416(client: httpx.AsyncClient, user: UserHandle, file_id: str, spec: str) -> None:
    response = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers | {"Range": spec})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["type"].rsplit("/", 1)[-1]) == (416, "range-not-satisfiable")


@pytest.mark.parametrize("spec", [
    "items=0-5", "bytes=abc", "bytes=9-3", "bytes=-", "bytes", "bytes=",
    # Malformed with more than one element: RFC 9110 says ignore, so the part count must not turn these into 416s.
    "bytes=0-1,abc", "bytes=0-1,-", "bytes=0-1,9-3", "bytes=0-0,1-1-1", "bytes=x,y,z",
])
async def test_unparsable_range_is_ignored(
    client: httpx.AsyncClient, user: UserHandle, file_id: str, spec: str
) -> None:
    response = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers | {"Range": spec})
    assert response.status_code == 200
    assert response.content == PAYLOAD
    assert "content-range" not in response.headers


class UnsplittableHeader(str):
    """A Range header that fails the test if it is ever taken apart.

    "Bounded work whatever the input" without a stopwatch: a header over the length cap must be
    refused on its length alone, so the parser may not even partition or split it.
    """

    def partition(self, sep: str, /) -> tuple[str, str, str]:
        raise AssertionError("the Range header was parsed before its length was checked")

    def split(self, sep: str | None = None, maxsplit: SupportsIndex = -1) -> list[str]:
        raise AssertionError("the Range header was split before its length was checked")

    def strip(self, chars: str | None = None, /) -> str:
        raise AssertionError("the Range header was scanned before its length was checked")


async def test_many_ranges_refused_on_length_alone(
    client: httpx.AsyncClient, user: UserHandle, file_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse_range = storage.parse_range
    seen: list[int] = []

    def guarded(header: str | None, size: int, max_parts: int) -> storage.ByteRange | None:
        seen.append(len(header or ""))
        return real_parse_range(None if header is None else UnsplittableHeader(header), size, max_parts)

    monkeypatch.setattr(storage, "parse_range", guarded)
    header = "bytes=" + "0-0," * 5000
    response = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers | {"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    assert seen == [len(header)]  # the route's only Range parsing went through the guarded parser


def test_parse_range_is_bounded() -> None:
    # Direct: a huge header is refused on its length, before any splitting (no wall clock: the
    # header raises if it is taken apart at all).
    with pytest.raises(RangeNotSatisfiable):
        storage.parse_range(UnsplittableHeader("bytes=" + "0-0," * 200_000), 10, 1)
    # The guard itself works: a short header is split as usual, and the guard says so.
    with pytest.raises(AssertionError, match="before its length was checked"):
        storage.parse_range(UnsplittableHeader("bytes=0-0"), 10, 1)


async def test_if_range_mismatch_sends_full_body(
    client: httpx.AsyncClient, user: UserHandle, file_id: str
) -> None:
    response = await client.get(f"/api/v1/files/{file_id}/content",
                                headers=user.headers | {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200
    assert response.content == PAYLOAD


async def test_disposition_inline_for_safe_types_only(client: httpx.AsyncClient, user: UserHandle) -> None:
    text = await upload(client, user, content=b"hello", name="notes € 1.txt", content_type="text/plain")
    html = await upload(client, user, content=b"<script>alert(1)</script>", name="x.html", content_type="text/html")
    inline = await client.get(f"/api/v1/files/{text['id']}/content?disposition=inline", headers=user.headers)
    assert inline.headers["content-disposition"] == (
        "inline; filename=\"notes _ 1.txt\"; filename*=UTF-8''notes%20%E2%82%AC%201.txt"
    )
    attach = await client.get(f"/api/v1/files/{text['id']}/content", headers=user.headers)
    assert attach.headers["content-disposition"].startswith("attachment;")
    forced = await client.get(f"/api/v1/files/{html['id']}/content?disposition=inline", headers=user.headers)
    assert forced.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in forced.headers["content-security-policy"]
    bad = await client.get(f"/api/v1/files/{text['id']}/content?disposition=evil", headers=user.headers)
    assert bad.status_code == 422


# ---- ownership, traversal, delete ----------------------------------------------------------------

async def test_other_users_file_is_404(
    client: httpx.AsyncClient, user: UserHandle, other_user: UserHandle, file_id: str
) -> None:
    for path in (f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/content"):
        response = await client.get(path, headers=other_user.headers)
        assert response.status_code == 404
    assert (await client.delete(f"/api/v1/files/{file_id}", headers=other_user.headers)).status_code == 404
    assert (await client.get(f"/api/v1/files/{file_id}", headers=user.headers)).status_code == 200


@pytest.mark.parametrize("bad_id", ["..%2F..%2Fetc%2Fpasswd", "%2E%2E", "ABCDEF" * 6, "0" * 31, "0" * 33, "x" * 32])
async def test_malformed_or_traversal_id_is_404(client: httpx.AsyncClient, user: UserHandle, bad_id: str) -> None:
    response = await client.get(f"/api/v1/files/{bad_id}/content", headers=user.headers)
    assert response.status_code == 404


async def test_delete(client: httpx.AsyncClient, user: UserHandle, app: FastAPI, file_id: str) -> None:
    response = await client.delete(f"/api/v1/files/{file_id}", headers=user.headers)
    assert response.status_code == 204
    assert stored_files(app) == []
    assert (await client.get(f"/api/v1/files/{file_id}", headers=user.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/files/{file_id}", headers=user.headers)).status_code == 404


# ---- CSV import ----------------------------------------------------------------------------------

async def import_csv(client: httpx.AsyncClient, user: UserHandle, data: bytes,
                     content_type: str = "text/csv") -> httpx.Response:
    return await client.post("/api/v1/files/csv", headers=user.headers,
                             files={"file": ("items.csv", data, content_type)})


async def test_csv_import_with_row_errors(client: httpx.AsyncClient, user: UserHandle) -> None:
    await create_item(client, user, name="taken", category="tools", price=1)
    data = (
        "\ufeffname,category,price,description\n"   # row 1 (with an Excel BOM)
        "hammer,tools,12.50,a hammer\n"             # row 2 ok
        "saw,tools,not-a-price,\n"                  # row 3 bad price
        "drill,Bad Category,5,\n"                   # row 4 bad category
        "wrench,tools\n"                            # row 5 wrong field count
        "hammer,tools,3,\n"                         # row 6 duplicate within file
        "taken,tools,4,\n"                          # row 7 already exists
        "\n"                                        # row 8 blank: skipped
        "\"tape, measuring\",tools,7.25,\n"         # row 9 ok, quoted comma
        "free,tools,-1,\n"                         # row 10 negative price
        "nan,tools,NaN,\n"                         # row 11 not a plain decimal
    ).encode()
    response = await import_csv(client, user, data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 2
    assert [e["row"] for e in body["errors"]] == [3, 4, 5, 6, 7, 10, 11]
    assert all(e["errors"] for e in body["errors"])
    assert body["errors"][0]["errors"] == ["price: must be a decimal number like 12.50"]
    assert "already exists" in body["errors"][4]["errors"][0]
    items = (await client.get("/api/v1/items?sort=name", headers=user.headers)).json()["items"]
    assert sorted(i["name"] for i in items) == ["hammer", "taken", "tape, measuring"]


async def test_csv_import_race_duplicate_is_row_error(
    client: httpx.AsyncClient, user: UserHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_item(client, user, name="taken", category="tools", price=1)

    async def nothing_exists(*_args: object) -> set[str]:
        return set()  # as if "taken" were created between the check and the insert

    monkeypatch.setattr(csv_import, "_existing_names", nothing_exists)
    response = await import_csv(client, user, b"name,category,price\nnew,tools,1\ntaken,tools,2\n")
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 1, "errors": [
        {"row": 3, "errors": ["name: an item with this name already exists"]}]}


@pytest.mark.parametrize(("data", "content_type", "status"), [
    ("name,category,price\nh,t,1\n".encode("utf-16"), "text/csv", 422),
    (b"name,category,price\ncaf\xe9,t,1\n", "text/csv", 422),
    (b"name,price\nh,1\n", "text/csv", 422),
    (b"name,category,price,owner_id\nh,t,1,2\n", "text/csv", 422),
    (b"", "text/csv", 422),
    (b"name,category,price\nh,t,1\n", "image/png", 415),
    (b'name,category,price\n"unterminated,t,1\n', "text/csv", 422),
])
async def test_csv_import_rejects_bad_files(
    client: httpx.AsyncClient, user: UserHandle, data: bytes, content_type: str, status: int
) -> None:
    response = await import_csv(client, user, data, content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_csv_import_row_limit(client: httpx.AsyncClient, user: UserHandle) -> None:
    rows = "".join(f"item{i},bulk,1\n" for i in range(csv_import.MAX_ROWS + 1))
    response = await import_csv(client, user, ("name,category,price\n" + rows).encode())
    assert response.status_code == 422
    assert (await client.get("/api/v1/items", headers=user.headers)).json()["total"] == 0
