"""The schema as SQLAlchemy Core tables: what queries are written against.

The migrations in `migrations/versions` create exactly this; a test compares the two, so a
change here needs a new revision beside it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .columns import Money, StatusCode, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT autoincrement ids; SQLite only auto-assigns rowids to a column typed INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("balance", Money()),  # USD left to spend; NULL: unlimited
    Column("webhook_secret", String(200)),  # "whsec_..." (Standard Webhooks), shown once
    Column("rate_per_min", Integer()),  # NULL: the operator's default
    Column("max_running", Integer()),  # NULL: the operator's default
    Column("webhook_url", String(2048)),  # the key's OpenAI-dialect webhook endpoint; NULL: none
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("dialect", String(32), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("status", StatusCode(), nullable=False),
    Column("progress", SmallInteger(), nullable=False),
    Column("eta", Integer()),
    Column("amount", Money(), nullable=False),
    Column("refunded", Boolean(), nullable=False),
    Column("args", JSON(), nullable=False),
    Column("spec", JSON(), nullable=False),
    Column("seed", BigInteger(), nullable=False),
    Column("callback_url", Text()),
    Column("off_peak", Boolean(), nullable=False),
    Column("meta", JSON(), nullable=False),  # `metadata` would shadow Table.metadata
    Column("result", JSON(none_as_null=True)),
    Column("error_code", String(64)),
    Column("error_message", Text()),
    Column("attempts", Integer(), nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("webhook_events", JSON(none_as_null=True)),  # native webhooks: events wanted
    Column("purged_at", UTCDateTime()),  # result files deleted by retention
    Column("route", JSON(none_as_null=True)),  # engine configuration: the worker's, never shown
    Column("not_before", UTCDateTime()),  # a retried job waits for its backoff
    # The claim's WHERE + ORDER BY, the reaper's scan, and per-owner listings.
    Index(None, "status", "engine", "off_peak", "created_at"),
    Index(None, "status", "lease_expires_at"),
    Index(None, "owner", "created_at"),
    Index(None, "owner", "status"),  # per-key running caps
    Index(None, "status", "finished_at"),  # retention
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("job_id", String(64), ForeignKey("jobs.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("kind IN ('charge', 'refund')", name="kind"),
    # At most one charge and one refund per job, whatever the code above it does.
    UniqueConstraint("job_id", "kind"),
    Index(None, "owner", "id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", String(64), ForeignKey("jobs.id"), nullable=False),
    Column("url", Text(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_status_code", Integer()),
    Column("last_error", Text()),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("event", String(16), nullable=False, server_default="completed"),
    Column("payload", JSON(none_as_null=True)),  # a snapshot for start/progress events
    Column("history", JSON(none_as_null=True)),  # one entry per attempt: the delivery log
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "job_id"),
)

# Idempotency-Key: (owner, key) -> the job it made and a hash of the request that made it.
idempotency = Table(
    "idempotency",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("job_id", String(64), ForeignKey("jobs.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "created_at"),
)

# Live worker threads, each row written by its process every heartbeat (`stillmotion status`).
workers = Table(
    "workers",
    metadata,
    Column("id", String(200), primary_key=True),  # the worker id; its claims are "<id>~<random>"
    Column("host", String(255), nullable=False),
    Column("pid", Integer(), nullable=False),
    Column("engines", JSON(), nullable=False),
    Column("capabilities", JSON(), nullable=False),  # weights held, warm weights, ...
    Column("jobs", JSON(), nullable=False),  # the job ids it runs now
    Column("started_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Index(None, "seen_at"),
)

# Periodic upkeep claimed per round: a host runs a task only if nobody ran it within the host's own
# interval, and moving `last_at` to now is the claim, so a round runs once however many hosts try.
tasks = Table(
    "tasks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200)),
    Column("last_at", UTCDateTime(), nullable=False),
)

# Upstream jobs (docs/upstream.md): one row per job routed to an upstream engine, its state
# machine and the lease a poller holds while it moves it (like `deliveries`).
upstream_tasks = Table(
    "upstream_tasks",
    metadata,
    Column("job_id", String(64), ForeignKey("jobs.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("hop", Integer(), nullable=False),  # 0: the route; 1..: its fallbacks
    Column("provider", String(100), nullable=False),  # the current hop's label (metrics, limits)
    Column("token", String(200), nullable=False),  # the current create's idempotency key
    Column("upstream_id", String(200)),
    Column("tries", Integer(), nullable=False),
    Column("next_at", UTCDateTime(), nullable=False),
    Column("deadline", UTCDateTime()),
    Column("attempts", JSON(), nullable=False),
    Column("cost", JSON(none_as_null=True)),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "state", "next_at"),
    Index(None, "provider", "state"),
)
