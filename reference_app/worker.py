"""The Celery worker's entry point: ``celery -A reference_app.worker worker`` (and ``... flower``).

Settings come from the environment (``REFAPP_*``), exactly as the API process reads them, so both
agree on the database and the broker.
"""

from __future__ import annotations

from reference_app.core.config import get_settings
from reference_app.core.logging import configure_logging
from reference_app.services.jobs_celery import create_celery

_settings = get_settings()
configure_logging(_settings.log_level)
app = create_celery(_settings)
