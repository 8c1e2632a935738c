"""The job core on SQLite (default) or PostgreSQL: `Database` with its three repositories.

SQLAlchemy Core; the schema is created and upgraded by `Database.migrate()` from the Alembic
revisions shipped in `migrations/`.
"""

from __future__ import annotations

from typing import Any

from .columns import from_micros, to_micros
from .database import Database

__all__ = ["Database", "from_micros", "open_database", "to_micros"]


def open_database(settings: Any, pool_size: int | None = None) -> Database:
    """The configured database, migrated to the current schema (every process and command opens it so)."""
    db = Database(settings.db_url, pool_size=pool_size or settings.db_pool_size)
    db.migrate()
    return db
