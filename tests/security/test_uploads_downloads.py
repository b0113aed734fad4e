"""Uploads and downloads: regressions for the multipart/Range CVEs of the FastAPI/Starlette stack,
filename and path handling, and resource release.

Bounded-time cases use ``probed``: the attack runs while ``/health/live`` probes run next to it,
and the probes must stay within a multiple of a baseline taken in the same case (no wall clock).
Cases that need real sockets (chunked bodies, the spool rolling to disk, a client vanishing
mid-download, websockets) run against the session's uvicorn process (``live_server``).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from reference_app.core.config import Settings
from tests.security.conftest import AppCache, LiveServer, assert_problem, expect, probed
from tests.utils.factories import UserHandle, create_item, create_user, item_payload

pytestmark = pytest.mark.security

BOUNDARY = "sec-boundary-7f3a"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def part(name: str, content: bytes, filename: str | None = None, content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + content + b"\r\n"


def multipart(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    return preamble + b"".join(parts) + f"--{BOUNDARY}--\r\n".encode() + epilogue


def mp_headers(user: UserHandle) -> dict[str, str]:
    return {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def warm_upload(client: httpx.AsyncClient, user: UserHandle) -> dict[str, Any]:
    """One ordinary upload first: the first request to a route pays one-off costs a probe would count."""
    r = await client.post("/api/v1/files", content=multipart(part("file", b"warm", "warm.txt", "text/plain")),
                          headers=mp_headers(user))
    body: dict[str, Any] = expect(r, 201).json()
    return body


def stored_files(settings: Settings) -> set[str]:
    root = Path(settings.storage_dir)
    return set(os.listdir(root)) if root.is_dir() else set()


# ---- multipart parser CVEs (in process) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status"),
    [pytest.param('multipart/form-data; boundary="' + "\\" * 50_000, 400, id="quoted-boundary-backslashes"),
     pytest.param("multipart/form-data; boundary=" + "\\" * 50_000, 400, id="bare-boundary-backslashes"),
     pytest.param('application/x-www-form-urlencoded; !="' + "\\" * 50_000, 422, id="original-poc-option")],
)
async def test_cve_2024_24762_content_type_backslash_redos(client: httpx.AsyncClient, user: UserHandle,
                                                           content_type: str, status: int) -> None:
    """CVE-2024-24762 (python-multipart/FastAPI Content-Type option-parsing ReDoS): a Content-Type with a
    long backslash run is a quick 4xx while the app keeps answering."""
    await warm_upload(client, user)
    r, _ = await probed(client, lambda: client.post("/api/v1/files", content=f"--{BOUNDARY}\r\n".encode(),
                                                    headers={**user.headers, "Content-Type": content_type}))
    assert_problem(r, status)


@pytest.mark.parametrize(
    ("preamble", "epilogue", "status"),
    [pytest.param(b"\r\n" * 1_000_000, b"", 201, id="crlf-preamble-2MB"),
     pytest.param(b"x" * 2_000_000, b"", 400, id="junk-preamble-2MB"),
     pytest.param(b"", b"\r\n-" * 700_000, 201, id="epilogue-2MB"),
     pytest.param(b"", b"-" * 2_000_000, 201, id="dash-epilogue-2MB")],
)
async def test_cve_2024_53981_large_preamble_or_epilogue(client: httpx.AsyncClient, user: UserHandle,
                                                         preamble: bytes, epilogue: bytes, status: int) -> None:
    """CVE-2024-53981 (python-multipart per-byte handling of data before the first / after the last
    boundary): megabytes of preamble or epilogue are handled in bounded time."""
    await warm_upload(client, user)
    body = multipart(part("file", b"payload", "p.txt", "text/plain"), preamble=preamble, epilogue=epilogue)
    r, _ = await probed(client, lambda: client.post("/api/v1/files", content=body, headers=mp_headers(user)))
    expect(r, status)
    if status == 201:
        assert r.json()["size"] == len(b"payload")


async def test_1001_fields_refused(client: httpx.AsyncClient, user: UserHandle, settings: Settings) -> None:
    """API4:2023 / CVE-2024-47874 family: 1001 form fields are refused (400) and nothing is stored."""
    before = stored_files(settings)
    fields = [part(f"f{i}", b"v") for i in range(1001)]
    form = multipart(*fields, part("file", b"x", "x.txt"))
    r, _ = await probed(client, lambda: client.post("/api/v1/files", content=form, headers=mp_headers(user)))
    body = assert_problem(r, 400)
    assert "fields" in body["detail"]
    assert stored_files(settings) == before


async def test_1001_files_refused(client: httpx.AsyncClient, user: UserHandle, settings: Settings) -> None:
    """API4:2023: 1001 file parts are refused (400) before any is stored."""
    before = stored_files(settings)
    files = [part("files", b"v", f"f{i}.txt", "text/plain") for i in range(1001)]
    r, _ = await probed(client, lambda: client.post("/api/v1/files/batch", content=multipart(*files),
                                                    headers=mp_headers(user)))
    body = assert_problem(r, 400)
    assert "files" in body["detail"]
    assert stored_files(settings) == before


@pytest.mark.parametrize(
    ("max_files", "sent", "status"),
    [pytest.param(5, 6, 413, id="over-deployment-setting-413"),
     pytest.param(20, 21, 422, id="over-contract-maxItems-422")],
)
async def test_more_files_than_allowed(cached_app: AppCache, client_for: Any, max_files: int, sent: int,
                                       status: int) -> None:
    """API4:2023: more parts than allowed (but under the parser's cap) is refused, all or nothing: 413 over
    the deployment's max_upload_files, 422 over the contract's maxItems."""
    app = cached_app(max_upload_files=max_files)
    async with client_for(app) as c:
        user = await create_user(c)
        before = stored_files(app.state.settings)
        files = [part("files", b"v", f"f{i}.txt", "text/plain") for i in range(sent)]
        r = await c.post("/api/v1/files/batch", content=multipart(*files), headers=mp_headers(user))
        assert_problem(r, status)
        assert stored_files(app.state.settings) == before
        ok = [part("files", b"v", f"f{i}.txt", "text/plain") for i in range(max_files)]
        assert len(expect(await c.post("/api/v1/files/batch", content=multipart(*ok), headers=mp_headers(user)),
                          201).json()) == max_files


async def test_cve_2024_47874_large_non_file_field(client: httpx.AsyncClient, user: UserHandle,
                                                   settings: Settings) -> None:
    """CVE-2024-47874 (Starlette buffered non-file form fields without limit): a 2 MB text field is a 400."""
    await warm_upload(client, user)
    before = stored_files(settings)
    body = multipart(part("note", b"z" * 2_000_000), part("file", b"x", "x.txt", "text/plain"))
    r, _ = await probed(client, lambda: client.post("/api/v1/files", content=body, headers=mp_headers(user)))
    assert_problem(r, 400)
    assert stored_files(settings) == before


# ---- filenames and paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [pytest.param("../../etc/passwd", "passwd", id="dotdot-traversal"),
     pytest.param("..\\..\\windows\\win.ini", "win.ini", id="backslash-traversal"),
     pytest.param("/etc/shadow", "shadow", id="absolute-path"),
     pytest.param("a\x00b.txt", "ab.txt", id="nul-byte"),
     pytest.param("evil\r\nX-Injected: 1.txt", None, id="crlf-header-injection"),
     pytest.param("report\u202etxt.exe", "reporttxt.exe", id="rtl-override"),
     pytest.param("..", "upload.bin", id="only-dots")],
)
async def test_filename_sanitized_and_stored_under_server_name(client: httpx.AsyncClient, user: UserHandle,
                                                               settings: Settings, raw: str,
                                                               expected: str | None) -> None:
    """API8:2023 / CWE-22, CWE-93: hostile filenames are metadata only: sanitized (no separators, NUL,
    CR/LF, bidi controls) and the bytes are stored under a server-generated 32-hex name."""
    r = await client.post("/api/v1/files", content=multipart(part("file", b"hostile", raw, "text/plain")),
                          headers=mp_headers(user))
    meta = expect(r, 201).json()
    name = meta["filename"]
    if expected is not None:
        assert name == expected
    assert not any(ch in name for ch in "/\\\x00\r\n\u202e")
    assert not name.startswith("..")
    assert HEX_ID.match(meta["id"])
    assert all(HEX_ID.match(entry) for entry in stored_files(settings))
    assert (Path(settings.storage_dir) / meta["id"]).read_bytes() == b"hostile"
    download = expect(await client.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers), 200)
    disposition = download.headers["content-disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert "x-injected" not in download.headers


@pytest.mark.parametrize(
    "file_id",
    ["..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5c..%5cwin.ini",
     "0" * 32, "%00" + "0" * 31, "a" * 33],
)
async def test_download_path_traversal_is_404(client: httpx.AsyncClient, user: UserHandle, file_id: str) -> None:
    """API1:2023 / CWE-22: a traversal or malformed file id on download is a 404, never a file outside storage."""
    await warm_upload(client, user)
    r = await client.get(f"/api/v1/files/{file_id}/content", headers=user.headers)
    assert_problem(r, 404)
    assert b"root:" not in r.content


async def test_html_upload_never_served_inline(client: httpx.AsyncClient, user: UserHandle) -> None:
    """API8:2023 (stored XSS through uploads): an HTML file asked for inline is served as an attachment,
    nosniff, sandboxed CSP."""
    r = await client.post("/api/v1/files", content=multipart(part("file", b"<script>alert(1)</script>",
                                                                  "x.html", "text/html")), headers=mp_headers(user))
    meta = expect(r, 201).json()
    d = expect(await client.get(f"/api/v1/files/{meta['id']}/content", params={"disposition": "inline"},
                                headers=user.headers), 200)
    assert d.headers["content-disposition"].startswith("attachment")
    assert d.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in d.headers["content-security-policy"]


# ---- Range ---------------------------------------------------------------------------------------------


async def test_cve_2025_62727_many_ranges_bounded(client: httpx.AsyncClient, user: UserHandle) -> None:
    """CVE-2025-62727 (Starlette FileResponse Range parsing, quadratic in the number of ranges):
    ``Range: bytes=0-0,`` x 5000 is refused quickly (416) while the app keeps answering."""
    meta = await warm_upload(client, user)
    url = f"/api/v1/files/{meta['id']}/content"
    expect(await client.get(url, headers={**user.headers, "Range": "bytes=0-0"}), 206)  # warm the path
    r, _ = await probed(client, lambda: client.get(url, headers={**user.headers, "Range": "bytes=" + "0-0," * 5000}))
    assert_problem(r, 416)
    assert r.headers["content-range"] == f"bytes */{meta['size']}"


@pytest.mark.parametrize(
    ("range_header", "status"),
    [pytest.param("bytes=100000-", 416, id="start-beyond-end"),
     pytest.param("bytes=4-4", 416, id="first-byte-past-last"),
     pytest.param("bytes=-0", 416, id="zero-suffix"),
     pytest.param("bytes=0-1,2-3", 416, id="two-ranges-over-max-parts"),
     pytest.param("bytes=1-2", 206, id="control-satisfiable")],
)
async def test_range_beyond_end_is_416(client: httpx.AsyncClient, user: UserHandle, range_header: str,
                                       status: int) -> None:
    """RFC 9110 §14.1.2 / §15.5.17: an unsatisfiable Range is a 416 with ``Content-Range: bytes */size``."""
    meta = await warm_upload(client, user)  # 4 bytes: b"warm"
    r = await client.get(f"/api/v1/files/{meta['id']}/content", headers={**user.headers, "Range": range_header})
    expect(r, status)
    if status == 416:
        assert r.headers["content-range"] == "bytes */4"
    else:
        assert (r.content, r.headers["content-range"]) == (b"ar", "bytes 1-2/4")


# ---- against a real server ------------------------------------------------------------------------------


async def live_user(server: LiveServer) -> UserHandle:
    async with server.client() as c:
        return await create_user(c)


def fds_under(server: LiveServer, root: Path) -> list[str]:
    return [t for t in server.open_fds() if t.startswith(str(root))]


async def wait_until(predicate: Callable[[], bool], *, within: float = 30.0, interval: float = 0.05) -> bool:
    """Bounded polling for something the server does on its own schedule. ``within`` is a hang
    guard, generous for a loaded CI machine: a condition that holds returns as soon as it does."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


async def test_cve_2025_54121_upload_over_spool_size_keeps_loop_free(live: LiveServer) -> None:
    """CVE-2025-54121 (Starlette wrote a spooled upload's rollover to disk on the event loop): a file
    bigger than the 1 MiB spool uploads (201) while /health/live stays responsive."""
    user = await live_user(live)
    content = os.urandom(2 * 1024 * 1024 + 123)
    async with live.client() as attacker, live.client() as prober:
        r, report = await probed(prober, lambda: attacker.post(
            "/api/v1/files", files={"file": ("big.bin", content, "application/octet-stream")}, headers=user.headers))
        meta = expect(r, 201).json()
        assert meta["size"] == len(content)
        assert len(report.latencies_s) >= 3


async def test_chunked_upload_over_max_is_413_and_leaves_nothing(live: LiveServer) -> None:
    """API4:2023 / CVE-2025-54121 family: a chunked upload (no Content-Length) over max_upload_bytes is a
    413; no stored file, no temp file in the server's tempfile.gettempdir(), no descriptor left open."""
    user = await live_user(live)
    before_storage = set(os.listdir(live.storage_dir))
    before_tmp = set(os.listdir(live.tmp_dir))
    before_test_tmp = set(os.listdir(tempfile.gettempdir()))
    chunk = b"\0" * 65536
    total = live.max_upload_bytes + 512 * 1024
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()

    async def body() -> Any:
        yield head
        for _ in range(total // len(chunk)):
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async with live.client() as c:
        r = await c.post("/api/v1/files", content=body(), headers=mp_headers(user))
        assert r.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.request.headers
        assert_problem(r, 413)
        expect(await c.get("/health/live"), 200)
    assert set(os.listdir(live.storage_dir)) == before_storage
    assert set(os.listdir(live.tmp_dir)) == before_tmp
    # Spooled temp files are unlinked at creation: the real check is the server's open descriptors.
    assert await wait_until(lambda: not fds_under(live, live.tmp_dir)), \
        fds_under(live, live.tmp_dir)
    assert not fds_under(live, live.storage_dir)
    # The system temp dir gained no file of the upload's either (the server has its own TMPDIR, so one
    # there means a hard-coded path). Other processes on a shared machine create tmp* entries at any
    # time, so an entry is attributed to this upload by its content, not merely by being new.
    leaked = {n for n in set(os.listdir(tempfile.gettempdir())) - before_test_tmp
              if n.startswith("tmp") and _holds_upload(Path(tempfile.gettempdir()) / n, chunk)}
    assert not leaked, leaked


def _holds_upload(path: Path, chunk: bytes) -> bool:
    """A regular file whose first bytes are the upload's payload (or its multipart head)."""
    try:
        with path.open("rb") as f:
            start = f.read(len(chunk))
    except OSError:  # a directory, or gone already: not a spooled upload
        return False
    return bool(start) and (chunk.startswith(start) or start.startswith(f"--{BOUNDARY}".encode()))


async def test_client_disconnect_mid_download_releases_file(live: LiveServer) -> None:
    """API4:2023 (resource exhaustion): a client that vanishes mid-download causes no error and the
    server closes the file handle promptly (checked in /proc/<pid>/fd)."""
    user = await live_user(live)
    # Bigger than what the kernel can buffer between the two ends (server sndbuf <= 4 MiB, our
    # rcvbuf pinned small before connect), so the server must still be reading the file when we stop.
    content = os.urandom(12 * 1024 * 1024)
    async with live.client() as c:
        meta = expect(await c.post("/api/v1/files", files={"file": ("dl.bin", content, "application/octet-stream")},
                                   headers=user.headers), 201).json()
    target = str(live.storage_dir / meta["id"])
    host, port = live.base_url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window, no autotune
        sock.settimeout(30)  # a hang guard on each recv, generous for a loaded machine
        sock.connect((host, int(port)))
        request = (f"GET /api/v1/files/{meta['id']}/content HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {user.access_token}\r\n\r\n").encode()
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < 16384:
            chunk = sock.recv(4096)
            if not chunk:
                break  # the server closed early: the status line below says why
            received += chunk
        assert received.startswith(b"HTTP/1.1 200")
        # While the client stalls, the server holds the file open (so the check below means something).
        assert await wait_until(lambda: target in live.open_fds())
    finally:
        sock.close()
    assert await wait_until(lambda: target not in live.open_fds()), "file handle still open"
    async with live.client() as c:
        expect(await c.get("/health/live"), 200)
        # The same file is served whole afterwards: nothing was left half-open or locked.
        full = expect(await c.get(f"/api/v1/files/{meta['id']}/content", headers=user.headers), 200)
        assert full.content == content
    log = live.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log


async def _ws_close_code(server: LiveServer, item_id: int, token: str) -> int:
    url = server.base_url.replace("http://", "ws://") + f"/api/v1/ws/items/{item_id}?token={token}"
    async with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    received = closed.value.rcvd
    assert received is not None
    return received.code


async def test_bola_websocket_subscribe(live: LiveServer) -> None:
    """API1:2023 BOLA: subscribing to another user's item is refused (close 1008, same as a missing item),
    the owner can subscribe, and the item is unchanged."""
    async with live.client() as c:
        owner, intruder = await create_user(c), await create_user(c)
        item = await create_item(c, owner)
        assert await _ws_close_code(live, item["id"], intruder.access_token) == 1008
        assert await _ws_close_code(live, 2_000_000_000, intruder.access_token) == 1008
        assert await _ws_close_code(live, item["id"], owner.refresh_token) == 1008  # RFC 8725 §3.12
        assert await _ws_close_code(live, item["id"], "not.a.token") == 1008
        url = live.base_url.replace("http://", "ws://") + \
            f"/api/v1/ws/items/{item['id']}?token={owner.access_token}"
        async with ws_connect(url, open_timeout=10) as ws:
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 10) == '{"echo":"ping"}'
        after = expect(await c.get(f"/api/v1/items/{item['id']}", headers=owner.headers), 200).json()
        assert after == item | {"updated_at": after["updated_at"]}


async def test_query_string_token_never_logged(live: LiveServer) -> None:
    """API8:2023 Security Misconfiguration / CWE-532 (RFC 6750 §5.3): the websocket's ``?token=`` is
    redacted from the server's logs (uvicorn logs the handshake path with its query on uvicorn.error,
    and the access log the HTTP one)."""
    async with live.client() as c:
        owner = await create_user(c)
        item = await create_item(c, owner)
        expect(await c.get("/health/live", params={"token": owner.refresh_token}), 200)
    assert await _ws_close_code(live, item["id"], owner.refresh_token) == 1008
    url = live.base_url.replace("http://", "ws://") + f"/api/v1/ws/items/{item['id']}?token={owner.access_token}"
    async with ws_connect(url, open_timeout=10) as ws:
        await ws.send("x")
        await asyncio.wait_for(ws.recv(), 10)
    # The server writes its handshake lines on its own schedule: poll (bounded) until both
    # handshakes are in the log, whatever the form of their query, then look at them.
    path = f"/api/v1/ws/items/{item['id']}?token="

    def log_text() -> str:
        return live.log_path.read_text(errors="replace")

    assert await wait_until(lambda: log_text().count(path) >= 2), log_text()[-2000:]
    log = log_text()
    assert f"{path}[redacted]" in log  # the line is there, the secret is not
    for secret in (owner.access_token, owner.refresh_token, owner.access_token.split(".")[2]):
        assert secret not in log


async def test_live_oversized_json_declared_length(live: LiveServer) -> None:
    """API4:2023: over a real socket, a declared Content-Length above max_json_bytes is refused with 413
    before the body is read, and the connection stays usable for a probe."""
    user = await live_user(live)
    body = b'{"name":"' + b"a" * (1_100_000) + b'","category":"tools","price":1}'
    async with live.client() as c:
        r = await c.post("/api/v1/items", content=body, headers={**user.headers, "Content-Type": "application/json"})
        assert_problem(r, 413)
        expect(await c.get("/health/live"), 200)
        expect(await c.post("/api/v1/items", json=item_payload(), headers=user.headers), 201)
