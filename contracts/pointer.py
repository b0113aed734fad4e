"""RFC 6901 JSON pointers: building them from parts and reading parts back."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote


def escape(token: str | int) -> str:
    """Escape one reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def join(base: str, *tokens: str | int) -> str:
    """Append escaped tokens to a pointer: ``join("/paths", "/items")`` is ``/paths/~1items``."""
    return base + "".join("/" + escape(token) for token in tokens)


def build(tokens: Iterable[str | int]) -> str:
    return join("", *tokens)


def split(pointer: str) -> list[str]:
    """The unescaped tokens of a pointer; a leading ``#`` (URI fragment form) is accepted.

    In the fragment form the pointer is percent-encoded first (RFC 6901 section 6), so
    ``#/components/schemas/A%20B`` names the schema ``A B``; it is decoded before ``~`` unescaping.
    """
    if pointer.startswith("#"):
        pointer = unquote(pointer[1:], errors="strict")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [unescape(token) for token in pointer[1:].split("/")]
