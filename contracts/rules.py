"""The rule catalogue: every change the verifier reports carries one of these ids.

The guiding principle is Postel's, applied per direction: a request may only come to accept
*more* than before, a response may only come to return *less* (or more fields, which clients
must ignore). Anything else can break a client that was correct against the old document.

Three severities, as in the field's standard (oasdiff): ``breaking`` (fails a diff), ``warning``
(potentially breaking: fails with ``--fail-on warning``) and ``info``. Each rule's level is a
default: the allowlist file's ``[severity]`` table can set any rule to another level, which is how
the policies (sunset, stability level, extensible enums, undecidable changes) are configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["breaking", "warning", "info"]
LEVELS: tuple[Level, ...] = ("breaking", "warning", "info")
B: Level = "breaking"
W: Level = "warning"
I: Level = "info"  # noqa: E741 - the catalogue reads as a table; I is the info column


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Level
    summary: str

    @property
    def breaking(self) -> bool:
        return self.level == "breaking"


R = Rule

_RULES: tuple[Rule, ...] = (
    # Paths and operations.
    R("path-removed", B, "a path (every operation on it) was removed"),
    R("path-added", I, "a new path"),
    R("operation-removed", B, "an operation (method on a path) was removed"),
    R("operation-added", I, "a new operation"),
    R("operation-id-changed", W, "operationId changed: generated clients rename the method"),
    # Parameters (path, query, header, cookie).
    R("param-removed", B, "a request parameter was removed"),
    R("param-added-required", B, "a new required request parameter"),
    R("param-added-optional", I, "a new optional request parameter"),
    R("param-made-required", B, "an optional request parameter became required"),
    R("param-made-optional", I, "a required request parameter became optional"),
    R("param-became-array", I, "a scalar query parameter became a form/explode array: ?x=v still works"),
    # Request bodies.
    R("request-body-removed", B, "the operation no longer takes a request body"),
    R("request-body-added-required", B, "the operation now requires a request body"),
    R("request-body-added-optional", I, "the operation accepts a new optional request body"),
    R("request-body-made-required", B, "the request body became required"),
    R("request-body-made-optional", I, "the request body became optional"),
    R("request-content-type-removed", B, "a request media type is no longer accepted"),
    R("request-content-type-added", I, "a new accepted request media type"),
    # Responses.
    R("response-removed", B, "a documented response status code was removed"),
    R("response-added", I, "a new response status code (clients should handle it)"),
    R("response-content-type-removed", B, "a response media type is no longer produced"),
    R("response-content-type-added", I, "a new response media type"),
    R("response-header-removed", B, "a documented response header was removed"),
    R("response-header-added", I, "a new response header"),
    R("response-header-made-optional", B, "a response header is no longer always sent"),
    R("response-header-made-required", I, "a response header is now always sent"),
    R("response-header-type-narrowed", I, "a text header now documents a narrower type (still text on the wire)"),
    R("error-response-removed", W, "a documented 4xx/5xx response was removed: clients may still handle it"),
    # Object properties, direction-aware.
    R("request-property-removed", B, "a request body field was removed (or renamed)"),
    R("request-property-added-required", B, "a new required request body field"),
    R("request-property-added-optional", I, "a new optional request body field"),
    R("request-property-made-required", B, "an optional request field became required"),
    R("request-property-made-optional", I, "a required request field became optional"),
    R("response-property-removed", B, "a response field was removed (or renamed)"),
    R("response-property-added", I, "a new response field"),
    R("response-property-made-optional", B, "a response field is no longer always present"),
    R("response-property-made-required", I, "a response field is now always present"),
    # Types, formats and nullability.
    R("type-changed", B, "the JSON type changed incompatibly"),
    R("request-type-widened", I, "a request value accepts more types (e.g. integer to number)"),
    R("response-type-narrowed", I, "a response value has fewer possible types"),
    R("format-changed", B, "the format changed (or a request format was added)"),
    R("request-format-removed", I, "a request value lost its format restriction"),
    R("response-format-added", I, "a response value gained a format"),
    R("request-nullable-removed", B, "a request value no longer accepts null"),
    R("request-nullable-added", I, "a request value now accepts null"),
    R("response-nullable-added", B, "a response value can now be null"),
    R("response-nullable-removed", I, "a response value can no longer be null"),
    # Enumerations.
    R("request-enum-narrowed", B, "a request value accepts fewer enum values"),
    R("request-enum-widened", I, "a request value accepts more enum values"),
    R("response-enum-widened", W, "a response value can take new enum values"),
    R("response-enum-narrowed", I, "a response value takes fewer enum values"),
    # Validation constraints (maxLength, minimum, pattern, maxItems, ...).
    R("request-constraint-tightened", B, "a request constraint became stricter"),
    R("request-constraint-loosened", I, "a request constraint became more lenient"),
    R("response-constraint-loosened", B, "a response constraint became more lenient"),
    R("response-constraint-tightened", I, "a response constraint became stricter"),
    R("request-limit-added", W, "a request value got an upper limit where it had none"),
    R(
        "request-constraint-undecidable",
        W,
        "a request constraint changed in a way that can't be proven wider or narrower",
    ),
    R(
        "response-constraint-undecidable",
        W,
        "a response constraint changed in a way that can't be proven wider or narrower",
    ),
    R("request-default-changed", W, "a request default changed: clients that omit the value get other behaviour"),
    R("response-default-changed", I, "a response default changed"),
    # `not`: a change inside it acts the opposite way on the enclosing schema.
    R("request-narrowed-by-not", B, "a request `not` schema now excludes more values"),
    R("request-widened-by-not", I, "a request `not` schema now excludes fewer values"),
    R("response-widened-by-not", B, "a response `not` schema now excludes fewer values"),
    R("response-narrowed-by-not", I, "a response `not` schema now excludes more values"),
    # Alternatives (oneOf/anyOf).
    R("request-variant-removed", B, "a request oneOf/anyOf alternative was removed"),
    R("request-variant-added", I, "a new request oneOf/anyOf alternative"),
    R("response-variant-added", B, "a response can take a new oneOf/anyOf shape"),
    R("response-variant-removed", I, "a response oneOf/anyOf alternative was removed"),
    R(
        "request-oneof-overlap",
        B,
        "a new oneOf alternative may match payloads another one matches: they become invalid",
    ),
    # Security.
    R("security-added", B, "an operation that allowed anonymous calls now requires credentials"),
    R("security-alternative-removed", B, "a way to authenticate (scheme or scope set) was removed"),
    R("security-alternative-added", I, "a new way to authenticate"),
    R("security-removed", I, "the operation no longer requires credentials"),
    R("security-scopes-added", B, "a security requirement now asks for more scopes"),
    R("security-requirement-relaxed", I, "a security requirement asks for fewer scopes or schemes"),
    # Webhooks (OpenAPI 3.1): the API sends, the consumer receives.
    R("webhook-removed", B, "a webhook (or one of its operations) is no longer sent"),
    R("webhook-added", I, "a new webhook"),
    R("webhook-param-removed", B, "a webhook no longer sends a parameter"),
    R("webhook-param-added", I, "a webhook sends a new parameter"),
    R("webhook-param-made-optional", B, "a webhook parameter is no longer always sent"),
    R("webhook-param-made-required", I, "a webhook parameter is now always sent"),
    R("webhook-body-removed", B, "a webhook no longer sends a body"),
    R("webhook-body-added", I, "a webhook now sends a body"),
    R("webhook-body-made-optional", B, "a webhook body is no longer always sent"),
    R("webhook-body-made-required", I, "a webhook body is now always sent"),
    R("webhook-content-type-added", B, "a webhook may send a new media type"),
    R("webhook-content-type-removed", I, "a webhook no longer sends a media type"),
    R("webhook-response-removed", B, "a consumer reply status the API understood is no longer documented"),
    R("webhook-response-added", I, "a new consumer reply status is documented"),
    # Policies: configurable in the allowlist file ([severity] table), see docs/contracts.md.
    R("operation-deprecated", I, "an operation was marked deprecated"),
    R("operation-removed-after-sunset", I, "a deprecated operation was removed after its x-sunset date"),
    R("operation-removed-before-sunset", B, "a deprecated operation was removed before its x-sunset date"),
    R("stability-level-decreased", B, "an operation's x-stability-level went down (e.g. stable to beta)"),
    R("unstable-operation-changed", I, "a breaking change to an alpha/beta operation (x-stability-level)"),
    R("response-extensible-enum-widened", I, "a response x-extensible-enum gained values clients must tolerate"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def get(rule_id: str) -> Rule:
    return RULES[rule_id]


def rank(level: Level) -> int:
    """0 for breaking, 1 for warning, 2 for info: lower is more severe."""
    return LEVELS.index(level)
