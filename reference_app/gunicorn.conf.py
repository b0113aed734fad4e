"""gunicorn with uvicorn workers: ``gunicorn -c reference_app/gunicorn.conf.py``.

Migrations run once in the master (``on_starting``) before any worker forks, so N workers never
race to create the schema. Every value can be overridden on the command line or by env.
"""

from __future__ import annotations

import os
from typing import Any

wsgi_app = "reference_app.main:create_app()"
bind = os.environ.get("REFAPP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("REFAPP_WORKERS", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
# Graceful shutdown: in-flight requests get this long to finish after SIGTERM.
graceful_timeout = int(os.environ.get("REFAPP_GRACEFUL_TIMEOUT", "20"))
timeout = 60
keepalive = 5
# A safety net, not the fix (docs/load.md, "Memory under sustained load"): each worker is replaced after
# about this many requests, the jitter keeping workers from restarting all at once. 0 turns it off.
max_requests = int(os.environ.get("REFAPP_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("REFAPP_MAX_REQUESTS_JITTER", "2000"))
accesslog = None  # the app writes its own structured access log
errorlog = "-"
loglevel = os.environ.get("REFAPP_LOG_LEVEL", "info").lower()


def on_starting(server: Any) -> None:
    if os.environ.get("REFAPP_MIGRATE_ON_START", "true").lower() in ("1", "true", "yes"):
        from reference_app.migrate import upgrade

        upgrade()
        server.log.info("alembic: database upgraded to head")
