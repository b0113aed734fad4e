"""Bulk item creation from CSV: every row validated like a POST, one transaction for the lot.

A bad row never fails the file; it is reported by line number. A bad *file* (not UTF-8, no
usable header, too many rows, broken quoting) is refused as a whole before anything is written.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from fastapi import UploadFile
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reference_app.core.context import request_id_var
from reference_app.core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from reference_app.models import AuditEvent, Item, User
from reference_app.schemas.files import CsvImportResult, CsvRowError
from reference_app.schemas.items import ItemCreate

log = logging.getLogger("refapp.csv")

MAX_ROWS = 10_000
MAX_ERRORS_PER_ROW = 10
REQUIRED_COLUMNS = ("name", "category", "price")
OPTIONAL_COLUMNS = ("description",)
# Browsers and spreadsheet tools label CSV inconsistently; octet-stream is what curl sends by default.
CSV_MEDIA_TYPES = frozenset({
    "text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream", "",
})
# Plain decimals only: Decimal() alone would also take "NaN", "Infinity" and "1e999".
_PRICE_TEXT = re.compile(r"^-?\d{1,12}(\.\d{1,12})?$")
_IN_CHUNK = 500  # keeps the duplicate lookup under every backend's bound-parameter limit


@dataclass(slots=True)
class _Parsed:
    valid: list[tuple[int, ItemCreate]] = field(default_factory=list)
    errors: list[CsvRowError] = field(default_factory=list)


async def read_text(upload: UploadFile, max_bytes: int) -> str:
    media_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in CSV_MEDIA_TYPES:
        raise UnsupportedMediaType(f"Expected a CSV file, got '{media_type}'.")
    raw = await upload.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The file exceeds {max_bytes} bytes.")
    try:
        return raw.decode("utf-8-sig")  # -sig: Excel prefixes a BOM that would corrupt the first column name
    except UnicodeDecodeError as exc:
        raise Unprocessable(f"The file is not valid UTF-8 (byte {exc.start}).") from exc


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise Unprocessable("The file is empty; expected a header row.") from None
    unknown = set(header) - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS)
    missing = set(REQUIRED_COLUMNS) - set(header)
    if unknown or missing or len(set(header)) != len(header):
        raise Unprocessable(
            "The header must be name,category,price[,description] (any order, no repeats); "
            f"missing={sorted(missing)} unknown={sorted(unknown)}."
        )
    return header


def _row_errors(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
        for e in exc.errors()[:MAX_ERRORS_PER_ROW]
    ]


def parse(text: str) -> _Parsed:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _header(reader)
    parsed = _Parsed()
    seen: dict[str, int] = {}
    rows = 0
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise Unprocessable(f"The file has more than {MAX_ROWS} rows; split it.")
            line = reader.line_num
            if len(record) != len(header):
                parsed.errors.append(CsvRowError(row=line, errors=[
                    f"expected {len(header)} fields, got {len(record)}"]))
                continue
            values: dict[str, object] = dict(zip(header, record, strict=True))
            if not str(values.get("description") or "").strip():
                values["description"] = None
            price = _PRICE_TEXT.match(str(values["price"]).strip())
            if price is None:
                parsed.errors.append(CsvRowError(row=line, errors=["price: must be a decimal number like 12.50"]))
                continue
            # The API's Price accepts JSON numbers only; a CSV cell is text, so it is converted here.
            values["price"] = Decimal(price.group())
            try:
                item = ItemCreate.model_validate(values)
            except ValidationError as exc:
                parsed.errors.append(CsvRowError(row=line, errors=_row_errors(exc)))
                continue
            if item.name in seen:
                parsed.errors.append(CsvRowError(row=line, errors=[
                    f"name: duplicates row {seen[item.name]}"]))
                continue
            seen[item.name] = line
            parsed.valid.append((line, item))
    except csv.Error as exc:
        raise Unprocessable(f"Malformed CSV at line {reader.line_num}: {exc}") from exc
    return parsed


async def _existing_names(session: AsyncSession, owner_id: int, names: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(names), _IN_CHUNK):
        batch = names[i : i + _IN_CHUNK]
        found.update(await session.scalars(
            select(Item.name).where(Item.owner_id == owner_id, Item.name.in_(batch))
        ))
    return found


def _new_item(owner_id: int, data: ItemCreate) -> Item:
    return Item(owner_id=owner_id, name=data.name, description=data.description,
                category=data.category, price=data.price, version=1)


def _audit(owner_id: int) -> AuditEvent:
    return AuditEvent(actor_id=owner_id, action="items.import_csv", target=f"user:{owner_id}",
                      request_id=request_id_var.get())


async def _insert_one_by_one(session: AsyncSession, owner_id: int, rows: Sequence[tuple[int, ItemCreate]],
                             errors: list[CsvRowError]) -> int:
    """Slow path after a race: a savepoint per row so a concurrent duplicate costs one row, not the file."""
    created = 0
    for line, data in rows:
        try:
            async with session.begin_nested():
                session.add(_new_item(owner_id, data))
        except IntegrityError:
            errors.append(CsvRowError(row=line, errors=["name: an item with this name already exists"]))
            continue
        created += 1
    return created


async def import_items(session: AsyncSession, owner: User, text: str) -> CsvImportResult:
    owner_id = owner.id  # read once: a rollback below expires `owner`, and a lazy reload can't run here
    parsed = parse(text)
    existing = await _existing_names(session, owner_id, [item.name for _, item in parsed.valid])
    errors = list(parsed.errors)
    fresh: list[tuple[int, ItemCreate]] = []
    for line, item in parsed.valid:
        if item.name in existing:
            errors.append(CsvRowError(row=line, errors=["name: an item with this name already exists"]))
        else:
            fresh.append((line, item))
    try:
        session.add_all([_new_item(owner_id, item) for _, item in fresh])
        session.add(_audit(owner_id))
        await session.commit()
        created = len(fresh)
    except IntegrityError:
        # Someone created one of these names between our check and the insert.
        await session.rollback()
        created = await _insert_one_by_one(session, owner_id, fresh, errors)
        session.add(_audit(owner_id))
        await session.commit()
    errors.sort(key=lambda e: e.row)
    log.info("csv import", extra={"items_created": created, "rows_rejected": len(errors)})
    return CsvImportResult(created=created, errors=errors)
