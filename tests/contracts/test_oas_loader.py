"""Loading documents from files and URLs, JSON and YAML, and rejecting what isn't OpenAPI 3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from contracts.loader import load_document
from harness.exitcodes import USAGE, HarnessError
from tests.contracts.openapi_docs import doc, item_schema, ok, op, response_doc

Serve = Callable[[dict[str, str]], str]
DOCUMENT = response_doc(item_schema())
GET_200 = "/get/responses/200"


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(DOCUMENT))
    assert load_document(path) == DOCUMENT


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    assert load_document(str(path)) == DOCUMENT


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"swagger": "2.0", "paths": {}}', "Swagger/OpenAPI 2.0 is not supported"),
        ('{"openapi": "4.0.0", "paths": {}}', "not an OpenAPI 3.x document"),
        ("[1, 2]", "expected a mapping"),
        ('{"openapi": "3.1.0", "paths": []}', "'paths' must be a mapping"),
        ("openapi: [unclosed", "neither valid JSON nor valid YAML"),
    ],
)
def test_invalid_documents_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(HarnessError, match=message) as info:
        load_document(path)
    assert info.value.exit_code == USAGE


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file") as info:
        load_document(tmp_path / "nope.json")
    assert info.value.exit_code == USAGE


def test_url_through_an_injected_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/openapi.yaml":
            return httpx.Response(200, text=yaml.safe_dump(DOCUMENT))
        return httpx.Response(404)

    transport = httpx.MockTransport(handler)
    assert load_document("https://api.example.test/openapi.yaml", transport=transport) == DOCUMENT
    assert seen == ["https://api.example.test/openapi.yaml"]
    with pytest.raises(HarnessError, match="HTTP 404") as info:
        load_document("https://api.example.test/missing.json", transport=transport)
    assert info.value.exit_code == USAGE


def test_url_from_a_local_http_server(serve: Serve) -> None:
    base = serve({"/openapi.json": json.dumps(DOCUMENT)})
    assert load_document(f"{base}/openapi.json") == DOCUMENT
    with pytest.raises(HarnessError, match="HTTP 404"):
        load_document(f"{base}/other.json")


def test_unreachable_url_is_a_usage_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(HarnessError, match="cannot fetch") as info:
        load_document("http://127.0.0.1:9/openapi.json", transport=httpx.MockTransport(refuse))
    assert info.value.exit_code == USAGE


def _spec_refusal(tmp_path: Path, document: dict[str, object]) -> str:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    with pytest.raises(HarnessError) as info:
        load_document(path)
    assert info.value.exit_code == USAGE
    return str(info.value)


def test_missing_info_version_is_refused_with_the_validators_message(tmp_path: Path) -> None:
    document = json.loads(json.dumps(DOCUMENT))
    del document["info"]["version"]
    message = _spec_refusal(tmp_path, document)
    assert "invalid OpenAPI document at #/info" in message
    assert '"version" is a required property' in message


def test_dangling_ref_is_refused_naming_the_ref(tmp_path: Path) -> None:
    document = response_doc({"$ref": "#/components/schemas/Gone"}, schemas={"Item": item_schema()})
    message = _spec_refusal(tmp_path, document)
    assert "unresolvable $ref" in message
    assert "/components/schemas/Gone" in message


def test_percent_encoded_ref_is_valid_and_resolves(tmp_path: Path) -> None:
    """Braces in a path template are percent-encoded in a $ref's fragment (RFC 6901 section 6)."""
    from contracts.refs import Resolver

    item_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    document = doc({"/items/{item_id}": {"get": op(params=[item_id], responses=ok(item_schema()))},
                    "/other": {"get": op(responses={"200": {"$ref": f"#/paths/~1items~1%7Bitem_id%7D{GET_200}"}})}})
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    loaded = load_document(path)
    assert Resolver(loaded).target(f"#/paths/~1items~1%7Bitem_id%7D{GET_200}") == ok(item_schema())["200"]
    schemas = {"A B": item_schema()}  # not a valid component name, but a valid pointer target
    assert Resolver({"components": {"schemas": schemas}}).target("#/components/schemas/A%20B") == item_schema()
    # "%25" is a literal percent sign, decoded once: the key is "50%", not "50" followed by garbage.
    assert Resolver({"a": {"50%": 1, "~/": 2}}).target("#/a/50%25") == 1
    assert Resolver({"a": {"50%": 1, "~/": 2}}).target("#/a/~0~1") == 2
