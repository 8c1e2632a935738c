"""Platform: key balances, limits and webhook secrets; idempotency; webhook events; retention.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Plain types only (see 0001). Added columns are nullable or carry a server default so the
revision applies to a database that already holds rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("balance", sa.BigInteger()))  # micro-dollars; NULL: unlimited
    op.add_column("api_keys", sa.Column("webhook_secret", sa.String(200)))
    op.add_column("api_keys", sa.Column("rate_per_min", sa.Integer()))
    op.add_column("api_keys", sa.Column("max_running", sa.Integer()))
    op.add_column("jobs", sa.Column("webhook_events", sa.JSON()))
    op.add_column("jobs", sa.Column("purged_at", TS))
    op.create_index("ix_jobs_owner_status", "jobs", ["owner", "status"])
    op.create_index("ix_jobs_status_finished_at", "jobs", ["status", "finished_at"])
    op.add_column("deliveries", sa.Column("event", sa.String(16), nullable=False, server_default="completed"))
    op.add_column("deliveries", sa.Column("payload", sa.JSON()))
    op.add_column("deliveries", sa.Column("history", sa.JSON()))
    op.create_table(
        "idempotency",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("owner", "key", name="pk_idempotency"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_idempotency_job_id_jobs"),
    )
    op.create_index("ix_idempotency_created_at", "idempotency", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency")
    with op.batch_alter_table("deliveries") as batch:
        for name in ("history", "payload", "event"):
            batch.drop_column(name)
    op.drop_index("ix_jobs_status_finished_at", "jobs")
    op.drop_index("ix_jobs_owner_status", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("purged_at")
        batch.drop_column("webhook_events")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("max_running", "rate_per_min", "webhook_secret", "balance"):
            batch.drop_column(name)
