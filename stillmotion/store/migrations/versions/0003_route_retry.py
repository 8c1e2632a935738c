"""Jobs carry their route apart from public metadata, and a retry time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

`route`: the operator's engine configuration chosen at submit (until now it rode in `meta`,
which every dialect shows). `not_before`: a retried job waits for its backoff. Jobs stored
with a route in `meta` keep it there; the worker reads either place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("route", sa.JSON()))
    op.add_column("jobs", sa.Column("not_before", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("not_before")
        batch.drop_column("route")
