"""What a comparison produces: classified ``Change`` records gathered in a ``DiffReport``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from contracts import rules
from contracts.rules import Level


@dataclass(frozen=True, slots=True)
class Change:
    """One classified difference.

    ``pointer`` is an RFC 6901 pointer to the use site (into the new document, or the old one for
    removals). When the change sits inside ``$ref``'d components, ``via`` lists the references
    followed from the use site (outermost first) and ``component_pointer`` points at the changed
    spot inside the innermost component, e.g. ``/components/schemas/Item/properties/price``.

    ``severity`` is the rule's default level unless configuration or a policy said otherwise;
    ``policy`` names the policy rule that set it (e.g. ``unstable-operation-changed``).
    """

    rule: str
    pointer: str
    reason: str
    via: tuple[str, ...] = ()
    component_pointer: str | None = None
    accepted: bool = False
    accepted_reason: str | None = None
    severity: Level | None = None
    policy: str | None = None

    def __post_init__(self) -> None:
        if self.rule not in rules.RULES:
            raise ValueError(f"unknown rule id {self.rule!r}")

    @property
    def level(self) -> Level:
        return self.severity or rules.get(self.rule).level

    @property
    def breaking(self) -> bool:
        return self.level == "breaking"

    @property
    def warning(self) -> bool:
        return self.level == "warning"

    def fails(self, fail_on: Level = "breaking") -> bool:
        """At or above ``fail_on`` and not accepted by the allowlist: this is what fails a check."""
        return not self.accepted and rules.rank(self.level) <= rules.rank(fail_on)

    @property
    def failing(self) -> bool:
        return self.fails("breaking")

    @property
    def status(self) -> str:
        return "accepted" if self.accepted else self.level

    def accept(self, reason: str) -> Change:
        return replace(self, accepted=True, accepted_reason=reason)

    def with_severity(self, level: Level, policy: str | None = None) -> Change:
        return replace(self, severity=level, policy=policy or self.policy)

    def rebased(self, pointer_prefix: str, via_prefix: tuple[str, ...]) -> Change:
        return replace(self, pointer=pointer_prefix + self.pointer, via=via_prefix + self.via)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.level,
            "status": self.status,
            "breaking": self.breaking,
            "policy": self.policy,
            "pointer": self.pointer,
            "reason": self.reason,
            "via": list(self.via),
            "component_pointer": self.component_pointer,
            "accepted_reason": self.accepted_reason,
        }


@dataclass(slots=True)
class DiffReport:
    changes: list[Change]
    notes: list[str] = field(default_factory=list)
    fail_on: Level = "breaking"

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking and not c.accepted]

    @property
    def warnings(self) -> list[Change]:
        return [c for c in self.changes if c.warning and not c.accepted]

    @property
    def infos(self) -> list[Change]:
        return [c for c in self.changes if c.level == "info"]

    @property
    def accepted(self) -> list[Change]:
        return [c for c in self.changes if c.accepted]

    @property
    def non_breaking(self) -> list[Change]:
        return [c for c in self.changes if not c.breaking]

    @property
    def failed(self) -> bool:
        """Some unaccepted change is at or above ``fail_on`` (breaking unless ``--fail-on warning``)."""
        return any(c.fails(self.fail_on) for c in self.changes)

    def rules(self) -> list[str]:
        return [c.rule for c in self.changes]

    def find(self, rule: str) -> list[Change]:
        return [c for c in self.changes if c.rule == rule]

    def summary(self) -> dict[str, int]:
        return {
            "breaking": len(self.breaking),
            "warning": len(self.warnings),
            "info": len(self.infos),
            "accepted": len(self.accepted),
            "non_breaking": len(self.non_breaking),
            "total": len(self.changes),
        }
