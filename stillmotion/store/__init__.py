"""The job core on SQLite (default) or PostgreSQL: `Database` with its three repositories.

SQLAlchemy Core; the schema is created and upgraded by `Database.migrate()` from the Alembic
revisions shipped in `migrations/`.
"""

from .columns import from_micros, to_micros
from .database import Database

__all__ = ["Database", "from_micros", "to_micros"]
