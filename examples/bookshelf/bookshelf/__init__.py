"""Bookshelf: an example FastAPI service that the harness tests as a third party."""
