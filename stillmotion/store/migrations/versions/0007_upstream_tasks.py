"""Upstream jobs: their durable state machine beside the job row.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07

One row per job routed to an upstream engine (docs/upstream.md): state, the hop of the
route's fallback chain, the upstream's task id, the idempotency token of the current create,
the attempt history and the upstream's reported cost, and the lease a poller holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_tasks",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.id", name="fk_upstream_tasks_job_id_jobs"),
                  nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hop", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("token", sa.String(200), nullable=False),
        sa.Column("upstream_id", sa.String(200)),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("cost", sa.JSON()),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_upstream_tasks"),
    )
    op.create_index("ix_upstream_tasks_state_next_at", "upstream_tasks", ["state", "next_at"])
    op.create_index("ix_upstream_tasks_provider_state", "upstream_tasks", ["provider", "state"])


def downgrade() -> None:
    op.drop_index("ix_upstream_tasks_provider_state", table_name="upstream_tasks")
    op.drop_index("ix_upstream_tasks_state_next_at", table_name="upstream_tasks")
    op.drop_table("upstream_tasks")
