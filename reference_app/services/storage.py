"""Uploaded files: streamed to disk under server-generated names, served back with byte ranges.

The client's filename is metadata only. On disk a file is ``<storage_dir>/<id>`` where ``id`` is
32 hex digits minted here, so no request value ever becomes part of a path.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import UploadFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.config import Settings
from reference_app.core.errors import NotFound, PayloadTooLarge, RangeNotSatisfiable
from reference_app.models import StoredFile, User, new_id

log = logging.getLogger("refapp.files")

CHUNK_SIZE = 64 * 1024
FALLBACK_NAME = "upload.bin"
MAX_FILENAME_CHARS = 200
MAX_RANGE_HEADER_CHARS = 200
FILE_ID = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
_RANGE_SPEC = re.compile(r"^(\d{0,19})-(\d{0,19})$")
# Served inline only if a browser can't execute them; anything else (html, svg, js) is an attachment.
INLINE_SAFE_TYPES = frozenset({
    "text/plain", "text/csv", "application/pdf", "application/json",
    "image/png", "image/jpeg", "image/gif", "image/webp",
})


def sanitize_filename(raw: str | None) -> str:
    """A display name: last path component, no control/format characters, bounded length."""
    if not raw:
        return FALLBACK_NAME
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    # Cc covers NUL and CR/LF (header injection); Cf covers bidi overrides that disguise extensions.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip(" .")
    if not name:
        return FALLBACK_NAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def sanitize_content_type(raw: str | None) -> str:
    media_type = (raw or "").split(";", 1)[0].strip().lower()
    return media_type if _CONTENT_TYPE.match(media_type) else "application/octet-stream"


def file_path(settings: Settings, file_id: str) -> Path:
    if not FILE_ID.match(file_id):  # defence in depth: callers already validated
        raise NotFound("File not found.")
    return Path(settings.storage_dir) / file_id


async def _write_stream(upload: UploadFile, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy ``upload`` to ``target`` chunk by chunk; returns (size, sha256). Deletes ``target`` on failure."""
    digest = hashlib.sha256()
    size = 0
    try:
        async with await anyio.open_file(target, "xb") as out:
            while chunk := await upload.read(CHUNK_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"A file exceeds {max_bytes} bytes.")
                digest.update(chunk)
                await out.write(chunk)
    except BaseException:
        # Also on cancellation (client gone): a partial file must never outlive its request.
        with anyio.CancelScope(shield=True):
            await anyio.Path(target).unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


async def _remove(paths: Sequence[Path]) -> None:
    with anyio.CancelScope(shield=True):
        for path in paths:
            await anyio.Path(path).unlink(missing_ok=True)


async def store_uploads(
    session: AsyncSession, settings: Settings, owner: User, uploads: Sequence[UploadFile]
) -> list[StoredFile]:
    """All or nothing: either every upload is on disk and committed, or none is left behind."""
    await anyio.Path(settings.storage_dir).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rows: list[StoredFile] = []
    try:
        for upload in uploads:
            file_id = new_id()
            target = file_path(settings, file_id)
            size, sha256 = await _write_stream(upload, target, settings.max_upload_bytes)
            written.append(target)
            rows.append(StoredFile(
                id=file_id, owner_id=owner.id, filename=sanitize_filename(upload.filename),
                content_type=sanitize_content_type(upload.content_type), size=size, sha256=sha256,
            ))
        session.add_all(rows)
        await session.commit()
    except BaseException:
        await _remove(written)
        raise
    log.info("files stored", extra={"count": len(rows), "bytes": sum(r.size for r in rows)})
    return rows


async def get_owned(session: AsyncSession, owner: User, file_id: str) -> StoredFile:
    """Another user's file and a malformed id are both plain 404s: existence is not disclosed."""
    if not FILE_ID.match(file_id):
        raise NotFound("File not found.")
    stored = await session.scalar(
        select(StoredFile).where(StoredFile.id == file_id, StoredFile.owner_id == owner.id)
    )
    if stored is None:
        raise NotFound("File not found.")
    return stored


async def delete_file(session: AsyncSession, settings: Settings, stored: StoredFile) -> None:
    path = file_path(settings, stored.id)
    await session.delete(stored)
    # Row first, bytes second: a crash in between leaves an orphan file, never a row without content.
    await session.commit()
    await anyio.Path(path).unlink(missing_ok=True)


# ---- downloads -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int, max_parts: int) -> ByteRange | None:
    """One satisfiable range, or None for "send it all" (no header, a malformed one, or 2..max_parts ranges).

    RFC 9110 §14.2: a Range header that is not a valid ``ranges-specifier`` is ignored (200, whole
    body), and so is a unit other than bytes. Only a well-formed one can be refused: with 416 when
    none of it is satisfiable, or when it names more ranges than ``max_parts`` (a server may reject
    many ranges, an indication of abuse). Only a single range is served; 2..max_parts ranges get the
    whole body (no multipart/byteranges here).

    Bounded work whatever the input: the header length is capped before it is taken apart (at most
    200 characters, so the split below is bounded too); a longer header is refused on its length.
    """
    if header is None:
        return None
    if len(header) > MAX_RANGE_HEADER_CHARS:
        raise _unsatisfiable(size)
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None  # other units are ignored, as RFC 9110 asks
    # Empty list elements are allowed by the list syntax (RFC 9110 §5.6.1) and skipped.
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    matches = [_RANGE_SPEC.match(p) for p in parts]
    if not parts or any(m is None or not (m.group(1) or m.group(2)) for m in matches):
        return None  # not a ranges-specifier at all (``bytes=abc``, ``bytes=-``, ``bytes=0-1,x``): ignore
    if any(m is not None and m.group(1) and m.group(2) and int(m.group(2)) < int(m.group(1)) for m in matches):
        return None  # ``last < first`` makes the whole specifier invalid: ignore rather than refuse
    if len(parts) > max_parts:
        raise _unsatisfiable(size)
    if len(parts) != 1:
        return None
    first, last = matches[0].groups()  # type: ignore[union-attr]  # checked above: every part matched
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if start >= size:
            raise _unsatisfiable(size)
        return ByteRange(start, min(end, size - 1))
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(size)
    return ByteRange(max(0, size - suffix), size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        "The requested range cannot be served.", headers={"Content-Range": f"bytes */{size}"}
    )


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients plus the exact UTF-8 ``filename*``."""
    ascii_name = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_" for ch in filename
    ) or FALLBACK_NAME
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def read_chunks(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """Yield ``length`` bytes from ``start`` in CHUNK_SIZE pieces; the handle closes on any exit."""
    handle = await anyio.open_file(path, "rb")
    try:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break  # truncated on disk underneath us; the client sees a short body, not a hang
            remaining -= len(chunk)
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await handle.aclose()
