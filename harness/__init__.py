"""The harness CLI and the infrastructure its parts share (server processes, containers).

Harness code talks HTTP to the reference app or uses ``create_app`` and its OpenAPI
document; it never imports the app's internals (see ARCHITECTURE.md).
"""
