"""Apply Alembic migrations programmatically: used by ``harness serve``, gunicorn's ``on_starting``
and the test suites, so every way of starting the app gets its schema the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).parent / "migrations" / "alembic.ini"


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent))
    if database_url:
        cfg.attributes["url"] = database_url
    cfg.attributes["configure_logging"] = False
    return cfg


def _ensure_sqlite_dir(database_url: str | None) -> None:
    from reference_app.core.config import get_settings

    url = database_url or get_settings().database_url
    if url.startswith("sqlite") and ":memory:" not in url:
        path = url.split("///", 1)[-1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    _ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


if __name__ == "__main__":  # python -m reference_app.migrate [upgrade|downgrade] [revision]
    action = sys.argv[1] if len(sys.argv) > 1 else "upgrade"
    target = sys.argv[2] if len(sys.argv) > 2 else ("head" if action == "upgrade" else "base")
    (upgrade if action == "upgrade" else downgrade)(None, target)
