"""The rule catalogue: every change the verifier reports carries one of these ids.

The guiding principle is Postel's, applied per direction: a request may only come to accept
*more* than before, a response may only come to return *less* (or more fields, which clients
must ignore). Anything else can break a client that was correct against the old document.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    breaking: bool
    summary: str


_RULES: tuple[Rule, ...] = (
    # Paths and operations.
    Rule("path-removed", True, "a path (every operation on it) was removed"),
    Rule("path-added", False, "a new path"),
    Rule("operation-removed", True, "an operation (method on a path) was removed"),
    Rule("operation-added", False, "a new operation"),
    Rule("operation-id-changed", True, "operationId changed: generated clients rename the method"),
    # Parameters (path, query, header, cookie).
    Rule("param-removed", True, "a request parameter was removed"),
    Rule("param-added-required", True, "a new required request parameter"),
    Rule("param-added-optional", False, "a new optional request parameter"),
    Rule("param-made-required", True, "an optional request parameter became required"),
    Rule("param-made-optional", False, "a required request parameter became optional"),
    # Request bodies.
    Rule("request-body-removed", True, "the operation no longer takes a request body"),
    Rule("request-body-added-required", True, "the operation now requires a request body"),
    Rule("request-body-added-optional", False, "the operation accepts a new optional request body"),
    Rule("request-body-made-required", True, "the request body became required"),
    Rule("request-body-made-optional", False, "the request body became optional"),
    Rule("request-content-type-removed", True, "a request media type is no longer accepted"),
    Rule("request-content-type-added", False, "a new accepted request media type"),
    # Responses.
    Rule("response-removed", True, "a documented response status code was removed"),
    Rule("response-added", False, "a new response status code (clients should handle it)"),
    Rule("response-content-type-removed", True, "a response media type is no longer produced"),
    Rule("response-content-type-added", False, "a new response media type"),
    Rule("response-header-removed", True, "a documented response header was removed"),
    Rule("response-header-added", False, "a new response header"),
    # Object properties, direction-aware.
    Rule("request-property-removed", True, "a request body field was removed (or renamed)"),
    Rule("request-property-added-required", True, "a new required request body field"),
    Rule("request-property-added-optional", False, "a new optional request body field"),
    Rule("request-property-made-required", True, "an optional request field became required"),
    Rule("request-property-made-optional", False, "a required request field became optional"),
    Rule("response-property-removed", True, "a response field was removed (or renamed)"),
    Rule("response-property-added", False, "a new response field"),
    Rule("response-property-made-optional", True, "a response field is no longer always present"),
    Rule("response-property-made-required", False, "a response field is now always present"),
    # Types, formats and nullability.
    Rule("type-changed", True, "the JSON type changed incompatibly"),
    Rule("request-type-widened", False, "a request value accepts more types (e.g. integer to number)"),
    Rule("response-type-narrowed", False, "a response value has fewer possible types"),
    Rule("format-changed", True, "the format changed (or a request format was added)"),
    Rule("request-format-removed", False, "a request value lost its format restriction"),
    Rule("response-format-added", False, "a response value gained a format"),
    Rule("request-nullable-removed", True, "a request value no longer accepts null"),
    Rule("request-nullable-added", False, "a request value now accepts null"),
    Rule("response-nullable-added", True, "a response value can now be null"),
    Rule("response-nullable-removed", False, "a response value can no longer be null"),
    # Enumerations.
    Rule("request-enum-narrowed", True, "a request value accepts fewer enum values"),
    Rule("request-enum-widened", False, "a request value accepts more enum values"),
    Rule("response-enum-widened", True, "a response value can take new enum values"),
    Rule("response-enum-narrowed", False, "a response value takes fewer enum values"),
    # Validation constraints (maxLength, minimum, pattern, maxItems, ...).
    Rule("request-constraint-tightened", True, "a request constraint became stricter"),
    Rule("request-constraint-loosened", False, "a request constraint became more lenient"),
    Rule("response-constraint-loosened", True, "a response constraint became more lenient"),
    Rule("response-constraint-tightened", False, "a response constraint became stricter"),
    # Alternatives (oneOf/anyOf).
    Rule("request-variant-removed", True, "a request oneOf/anyOf alternative was removed"),
    Rule("request-variant-added", False, "a new request oneOf/anyOf alternative"),
    Rule("response-variant-added", True, "a response can take a new oneOf/anyOf shape"),
    Rule("response-variant-removed", False, "a response oneOf/anyOf alternative was removed"),
    # Security.
    Rule("security-added", True, "an operation that allowed anonymous calls now requires credentials"),
    Rule("security-alternative-removed", True, "a way to authenticate (scheme or scope set) was removed"),
    Rule("security-alternative-added", False, "a new way to authenticate"),
    Rule("security-removed", False, "the operation no longer requires credentials"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def get(rule_id: str) -> Rule:
    return RULES[rule_id]
