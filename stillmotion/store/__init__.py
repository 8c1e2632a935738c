"""The durable job store: jobs with leases, API keys, the money ledger, the callback outbox.

SQLAlchemy Core over SQLite (default) or PostgreSQL; the schema is created and upgraded by
`Store.migrate()` from the Alembic revisions shipped in `migrations/`.
"""

from .columns import from_micros, to_micros
from .records import Delivery, KeyRecord, LedgerLine, NewDelivery, NewJob, ReapResult, final_deliveries
from .sqlstore import Store

__all__ = [
    "Delivery",
    "KeyRecord",
    "LedgerLine",
    "NewDelivery",
    "NewJob",
    "ReapResult",
    "Store",
    "final_deliveries",
    "from_micros",
    "to_micros",
]
