"""`Database`: one SQLite file or PostgreSQL database, seen as the three repositories."""

from __future__ import annotations

from .accounts import SqlAccounts
from .engine import make_engine, migrate
from .jobs import SqlJobs
from .outbox import SqlOutbox
from .workers import SqlWorkers
from .upstream import SqlUpstream


class Database:
    """Implements `jobs.repository.Database` on SQLAlchemy Core."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._engine = make_engine(url, pool_size)
        self.jobs = SqlJobs(self._engine)
        self.accounts = SqlAccounts(self._engine)
        self.outbox = SqlOutbox(self._engine)
        self.workers = SqlWorkers(self._engine)
        self.upstream = SqlUpstream(self._engine)

    @property
    def backend(self) -> str:
        """The SQLAlchemy dialect name: sqlite or postgresql."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        migrate(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
