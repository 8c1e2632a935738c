"""Live workers and claimed upkeep tasks, for several hosts.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-07

`workers`: one row per worker thread, rewritten by its process every heartbeat (host, engines,
capabilities, running jobs), read by `stillmotion status`. `tasks`: each round of housekeeping
(reaper, retention, off-peak expiry, idempotency keys) is claimed by moving `last_at` to now when
it is older than the claimer's interval, so hosts running housekeeping at once never do a round twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("engines", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_seen_at"), "workers", ["seen_at"])
    op.create_table(
        "tasks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200)),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tasks")),
    )


def downgrade() -> None:
    op.drop_table("tasks")
    op.drop_index(op.f("ix_workers_seen_at"), table_name="workers")
    op.drop_table("workers")
