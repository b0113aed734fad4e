"""Read an OpenAPI 3.x document from a file or an http(s) URL, as JSON or YAML.

Anything unreadable or not an OpenAPI 3 document is a ``HarnessError`` with exit code 2, with a
message that says which source and why. After the cheap shape checks, the document is validated
against the OpenAPI schema by ``openapi-spec-validator`` (a missing ``info.version``, a dangling
``$ref``): a diff or a fuzz run over an invalid contract would report on something no client can
rely on. The HTTP transport is injectable for tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.exitcodes import USAGE, HarnessError

if TYPE_CHECKING:  # httpx costs ~0.1-0.3 s to import: only when a document is fetched over HTTP
    import httpx

TIMEOUT_S = 30.0


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load_document(source: str | Path, *, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Load and minimally validate an OpenAPI 3.x document."""
    label = str(source)
    text = _fetch(label, transport) if isinstance(source, str) and is_url(source) else _read(Path(source))
    return validate(parse(text, label), label)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such file", USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read: {exc}", USAGE) from exc


def _fetch(url: str, transport: httpx.BaseTransport | None) -> str:
    import httpx

    try:
        with httpx.Client(transport=transport, timeout=TIMEOUT_S, follow_redirects=True) as client:
            response = client.get(url, headers={"Accept": "application/json, application/yaml;q=0.9"})
    except httpx.HTTPError as exc:
        raise HarnessError(f"{url}: cannot fetch: {exc}", USAGE) from exc
    if response.status_code != 200:
        raise HarnessError(f"{url}: HTTP {response.status_code}, expected 200", USAGE)
    return response.text


def parse(text: str, label: str) -> Any:
    """JSON if it parses as JSON (the common case, and faster), YAML otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HarnessError(f"{label}: neither valid JSON nor valid YAML: {exc}", USAGE) from exc


def validate(document: Any, label: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise HarnessError(f"{label}: not an OpenAPI document (expected a mapping at the top level)", USAGE)
    if "swagger" in document:
        raise HarnessError(f"{label}: Swagger/OpenAPI 2.0 is not supported, only OpenAPI 3.x", USAGE)
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise HarnessError(f"{label}: not an OpenAPI 3.x document (openapi: {version!r})", USAGE)
    paths = document.get("paths", {})
    if not isinstance(paths, dict):
        raise HarnessError(f"{label}: 'paths' must be a mapping", USAGE)
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise HarnessError(f"{label}: path item {path!r} must be a mapping", USAGE)
    check_spec(document, label)
    return document


def check_spec(document: dict[str, Any], label: str) -> None:
    """``openapi-spec-validator`` (3.0 or 3.1, by the ``openapi`` field); its message, where it points."""
    # Imported here: it costs ~0.5 s of CPU, which every `harness` command would pay at start-up (the
    # contract commands are registered in every parser), most of them never loading a document.
    from openapi_spec_validator import validate as validate_spec
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
    from referencing.exceptions import Unresolvable

    try:
        validate_spec(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        at = f" at #/{where}" if where else ""
        # The first line is the finding; the rest repeats the schema and the instance, which can be the whole document.
        first = exc.message.splitlines()[0] if exc.message else type(exc).__name__
        raise HarnessError(f"{label}: invalid OpenAPI document{at}: {first}", USAGE) from None
    except Unresolvable as exc:
        # str(exc) of a PointerToNowhere embeds the whole document; the reference is what helps.
        ref = getattr(exc, "ref", "?")
        raise HarnessError(f"{label}: invalid OpenAPI document: unresolvable $ref {ref!r} "
                           f"({type(exc).__name__})", USAGE) from None
