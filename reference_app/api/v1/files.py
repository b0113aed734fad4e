"""Uploads, CSV import and ranged downloads of the caller's own files."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Header, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from reference_app.core.db import SessionDep
from reference_app.core.deps import CurrentUser, SettingsDep
from reference_app.core.errors import NotFound, PayloadTooLarge, problem_responses
from reference_app.schemas.files import CsvImportResult, Disposition, FileMeta
from reference_app.services import csv_import, storage

router = APIRouter(prefix="/files", tags=["files"])

_AUTH = (401, 403)
_UPLOAD_ERRORS = (*_AUTH, 400, 413, 422)


class FileStreamResponse(StreamingResponse):
    """Closes the body iterator (and with it the file handle) however the response ends.

    Starlette stops iterating when the client disconnects but leaves the generator to the GC;
    an explicit ``aclose`` makes the handle's lifetime the response's lifetime.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", "content": {"application/octet-stream": {}}},
    206: {"description": "One byte range (Content-Range).", "content": {"application/octet-stream": {}}},
    **problem_responses(*_AUTH, 404, 416, 422),
}


@router.post(
    "", operation_id="files_upload", status_code=status.HTTP_201_CREATED, response_model=FileMeta,
    responses=problem_responses(*_UPLOAD_ERRORS),
)
async def upload_file(
    file: Annotated[UploadFile, File(description="The file; stored under a server-generated id.")],
    user: CurrentUser, session: SessionDep, settings: SettingsDep, response: Response,
) -> FileMeta:
    """Upload one file (at most `max_upload_bytes`). The response carries its size and SHA-256."""
    (stored,) = await storage.store_uploads(session, settings, user, [file])
    response.headers["Location"] = f"/api/v1/files/{stored.id}"
    return FileMeta.model_validate(stored)


# The contract's maxItems; the setting can only lower it (config.py caps it here).
MAX_BATCH_FILES = 20


@router.post(
    "/batch", operation_id="files_upload_many", status_code=status.HTTP_201_CREATED,
    response_model=list[FileMeta], responses=problem_responses(*_UPLOAD_ERRORS),
)
async def upload_files(
    files: Annotated[list[UploadFile], File(
        min_length=1, max_length=MAX_BATCH_FILES,
        description=f"1 to {MAX_BATCH_FILES} files (a deployment may lower it with REFAPP_MAX_UPLOAD_FILES: 413).",
    )],
    user: CurrentUser, session: SessionDep, settings: SettingsDep,
) -> list[FileMeta]:
    """Upload several files at once, all or nothing. More than `max_upload_files` parts is a 413."""
    if len(files) > settings.max_upload_files:
        raise PayloadTooLarge(f"At most {settings.max_upload_files} files per request.")
    stored = await storage.store_uploads(session, settings, user, files)
    return [FileMeta.model_validate(s) for s in stored]


@router.post(
    "/csv", operation_id="files_import_csv", response_model=CsvImportResult,
    responses=problem_responses(*_UPLOAD_ERRORS, 415),
)
async def import_csv(
    file: Annotated[UploadFile, File(description="UTF-8 CSV with header name,category,price[,description].")],
    user: CurrentUser, session: SessionDep, settings: SettingsDep,
) -> CsvImportResult:
    """Create items from a CSV file, at most 10 000 rows.

    Valid rows are created together; invalid ones (including a name you already use) are
    listed in `errors` by line number. A file that is not UTF-8 or has a bad header is a 422;
    a file that is not CSV by media type is a 415.
    """
    text = await csv_import.read_text(file, settings.max_upload_bytes)
    return await csv_import.import_items(session, user, text)


@router.get(
    "/{file_id}", operation_id="files_read_meta", response_model=FileMeta,
    responses=problem_responses(*_AUTH, 404),
)
async def read_meta(file_id: str, user: CurrentUser, session: SessionDep) -> FileMeta:
    return FileMeta.model_validate(await storage.get_owned(session, user, file_id))


@router.get(
    "/{file_id}/content", operation_id="files_download", response_class=FileStreamResponse,
    responses=_DOWNLOAD_RESPONSES,
)
async def download(
    file_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    disposition: Annotated[Disposition, Query(description="`inline` only for types a browser won't run.")]
    = "attachment",
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> FileStreamResponse:
    """Stream the file. Honours one `Range` (`a-b`, `a-`, `-n`) with 206.

    A range past the end, or more than `max_range_parts` ranges (or a Range header over 200
    characters), is a 416 with `Content-Range: bytes */size`; an unparsable Range is ignored.
    """
    stored = await storage.get_owned(session, user, file_id)
    path = storage.file_path(settings, stored.id)
    if not await anyio.Path(path).is_file():
        raise NotFound("File not found.")
    etag = f'"{stored.sha256}"'
    # If-Range with a different validator means "the file changed; send it whole".
    wanted = range_header if if_range is None or if_range == etag else None
    byte_range = storage.parse_range(wanted, stored.size, settings.max_range_parts)
    media_type = stored.content_type
    if disposition == "inline" and media_type not in storage.INLINE_SAFE_TYPES:
        disposition = "attachment"
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": storage.content_disposition(disposition, stored.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
    }
    if byte_range is None:
        headers["Content-Length"] = str(stored.size)
        return FileStreamResponse(storage.read_chunks(path, 0, stored.size), headers=headers,
                                  media_type=media_type)
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{stored.size}"
    return FileStreamResponse(storage.read_chunks(path, byte_range.start, byte_range.length),
                              status_code=status.HTTP_206_PARTIAL_CONTENT, headers=headers,
                              media_type=media_type)


@router.delete(
    "/{file_id}", operation_id="files_delete", status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_AUTH, 404),
)
async def delete(file_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> None:
    stored = await storage.get_owned(session, user, file_id)
    await storage.delete_file(session, settings, stored)
