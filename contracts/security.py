"""Which credentials an operation requires: requirements are alternatives, schemes in one are ANDed.

A client holding credentials for an old requirement keeps working if some new requirement asks
for a subset of it (fewer schemes, or fewer scopes of the same scheme): that is a relaxation, not
a removed alternative. Asking the same schemes for more scopes turns tokens away.
"""

from __future__ import annotations

from typing import Any

from contracts.context import Ctx
from contracts.model import Change

Requirement = frozenset[tuple[str, tuple[str, ...]]]


def effective(document: dict[str, Any], operation: dict[str, Any], op_pointer: str) -> tuple[list[Requirement], str]:
    """The effective security requirements of an operation, and where they are declared."""
    if "security" in operation:
        raw, at = operation.get("security"), op_pointer + "/security"
    else:
        raw, at = document.get("security"), "/security"
    requirements: list[Requirement] = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict):
            requirements.append(
                frozenset((str(k), tuple(sorted(map(str, v if isinstance(v, list) else [])))) for k, v in entry.items())
            )
    return requirements, at


def _anonymous(requirements: list[Requirement]) -> bool:
    return not requirements or any(not r for r in requirements)


def _satisfied_by(held: Requirement, asked: Requirement) -> bool:
    """Credentials for ``held`` satisfy ``asked``: every asked scheme is held, with at least its scopes."""
    scopes = dict(held)
    return all(name in scopes and set(needed) <= set(scopes[name]) for name, needed in asked)


def show(requirement: Requirement) -> str:
    parts = [f"{name}[{' '.join(scopes)}]" if scopes else name for name, scopes in sorted(requirement)]
    return " + ".join(parts) or "no credentials"


def _alternatives(requirements: list[Requirement]) -> str:
    return " or ".join(show(r) for r in requirements)


def compare(old_reqs: list[Requirement], new_reqs: list[Requirement], where: Ctx) -> list[Change]:
    if _anonymous(old_reqs) and not _anonymous(new_reqs):
        return [where.change("security-added", f"credentials are now required: {_alternatives(new_reqs)}")]
    if _anonymous(new_reqs) and not _anonymous(old_reqs):
        return [where.change("security-removed", "the operation no longer requires credentials")]
    if _anonymous(old_reqs) and _anonymous(new_reqs):
        return []
    changes: list[Change] = []
    explained: set[Requirement] = set()
    for requirement in old_reqs:
        if requirement in new_reqs:
            continue
        relaxed = next((n for n in new_reqs if n not in old_reqs and _satisfied_by(requirement, n)), None)
        stricter = next(
            (
                n
                for n in new_reqs
                if n not in old_reqs
                and {s for s, _ in n} == {s for s, _ in requirement}
                and _satisfied_by(n, requirement)
            ),
            None,
        )
        if relaxed is not None:
            explained.add(relaxed)
            reason = f"{show(requirement)} is relaxed to {show(relaxed)}: the same credentials still work"
            changes.append(where.change("security-requirement-relaxed", reason))
        elif stricter is not None:
            explained.add(stricter)
            reason = f"{show(requirement)} now needs {show(stricter)}: tokens without the new scopes are refused"
            changes.append(where.change("security-scopes-added", reason))
        else:
            reason = f"authentication with {show(requirement)} is no longer accepted"
            changes.append(where.change("security-alternative-removed", reason))
    for requirement in new_reqs:
        if requirement not in old_reqs and requirement not in explained:
            reason = f"authentication with {show(requirement)} is now accepted"
            changes.append(where.change("security-alternative-added", reason))
    return changes
