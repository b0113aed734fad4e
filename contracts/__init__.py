"""OpenAPI contract tooling: export the live schema, check it against the committed one, and
classify the differences between two documents as breaking or non-breaking.

Modules, one concept each:

- ``loader``     read an OpenAPI 3.x document from a file or an http(s) URL (JSON or YAML)
- ``pointer``    RFC 6901 JSON pointers
- ``refs``       local ``$ref`` resolution with cycle protection
- ``rules``      the rule catalogue: id, breaking or not, what it means
- ``model``      ``Change`` and ``DiffReport``
- ``schemas``    direction-aware JSON-schema comparison (request vs response)
- ``diff``       document comparison: paths, operations, parameters, bodies, responses, security
- ``allowlist``  accepting known breaks by rule id + pointer glob, with a reason
- ``render``     text, markdown and json output
- ``live``       a target's live schema and its deterministic serialisation
- ``cli``        ``harness contract export|check|diff``
"""
