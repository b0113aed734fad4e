"""Local ``$ref`` resolution (``#/components/...``) with protection against reference cycles.

Only same-document references are supported: the committed contract is one self-contained file,
as FastAPI emits it. A remote or broken reference is an invalid input (exit 2), not a crash.
"""

from __future__ import annotations

from typing import Any

from contracts import pointer
from harness.exitcodes import USAGE, HarnessError

MAX_CHAIN = 64  # a $ref to a $ref to ... deeper than this is a cycle or a pathological document


class Resolver:
    """Follows local references inside one document."""

    def __init__(self, document: dict[str, Any], label: str = "document") -> None:
        self.document = document
        self.label = label

    def target(self, ref: str) -> Any:
        """The node a ``$ref`` string points at."""
        if not ref.startswith("#"):
            raise HarnessError(f"{self.label}: only local $ref (#/...) is supported, got {ref!r}", USAGE)
        node: Any = self.document
        try:
            tokens = pointer.split(ref)
        except ValueError as exc:
            raise HarnessError(f"{self.label}: malformed $ref {ref!r}", USAGE) from exc
        for token in tokens:
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise HarnessError(f"{self.label}: unresolvable $ref {ref!r}", USAGE)
        return node

    def deref(self, node: Any) -> tuple[Any, tuple[str, ...]]:
        """Follow ``node``'s reference chain; returns the final node and the refs followed.

        Sibling keywords next to ``$ref`` (allowed in OpenAPI 3.1) are laid over the target.
        A chain that loops (``A -> B -> A``) is reported as an invalid document.
        """
        chain: list[str] = []
        siblings: dict[str, Any] = {}
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in chain or len(chain) >= MAX_CHAIN:
                raise HarnessError(f"{self.label}: $ref cycle: {' -> '.join([*chain, ref])}", USAGE)
            chain.append(ref)
            siblings = {**{k: v for k, v in node.items() if k != "$ref"}, **siblings}
            node = self.target(ref)
        if siblings and isinstance(node, dict):
            node = {**node, **siblings}
        return node, tuple(chain)


def ref_of(node: Any) -> str | None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return ref
    return None
