"""Where the comparison currently is: the use-site pointer, the ``$ref`` chain, the component spot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts import pointer
from contracts.model import Change

Direction = Literal["request", "response"]


@dataclass(frozen=True, slots=True)
class Ctx:
    pointer: str = ""
    via: tuple[str, ...] = ()
    component: str | None = None  # pointer inside the innermost $ref'd component, if any
    depth: int = 0

    def child(self, *tokens: str | int) -> Ctx:
        return Ctx(
            pointer=pointer.join(self.pointer, *tokens),
            via=self.via,
            component=pointer.join(self.component, *tokens) if self.component is not None else None,
            depth=self.depth + 1,
        )

    def through(self, chain: tuple[str, ...]) -> Ctx:
        """Entering the component at the end of ``chain`` (refs as written, e.g. ``#/components/...``)."""
        if not chain:
            return self
        return Ctx(pointer=self.pointer, via=self.via + chain, component=chain[-1][1:], depth=self.depth + 1)

    def change(self, rule: str, reason: str, *tokens: str | int) -> Change:
        return Change(
            rule=rule,
            pointer=pointer.join(self.pointer, *tokens),
            reason=reason,
            via=self.via,
            component_pointer=pointer.join(self.component, *tokens) if self.component is not None else None,
        )


METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
