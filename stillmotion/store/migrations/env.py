"""Alembic environment: only ever run by `Store.migrate()`, which passes its connection in.

No alembic.ini and no logging setup: the service configures logging, and the caller owns the
transaction (so the upgrade is all-or-nothing and serialised, see `store.engine.migrate`).
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("stillmotion migrations run through Store.migrate(), with a connection")

context.configure(
    connection=connection,
    target_metadata=None,  # revisions are written by hand; see tests for the schema check
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
