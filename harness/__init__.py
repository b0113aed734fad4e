"""The harness CLI and the infrastructure its parts share (server processes, containers).

Harness code reaches an app only through its target (``harness.target``): over HTTP, or by
importing the target's ``module:attr`` in the target's interpreter (``harness.appload``) for its
OpenAPI document; it never imports an app's internals (see ARCHITECTURE.md).
"""
