"""The reference FastAPI service that fastapi-harness drives."""

__version__ = "1.0.0"
