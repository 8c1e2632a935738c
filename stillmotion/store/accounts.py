"""Money and request bookkeeping inside the caller's transaction: balances, idempotency keys.

A metered key's balance is debited by one conditional UPDATE (`WHERE balance >= amount`) in
the transaction that stores the job, so concurrent submits on either backend can never take
it below zero: the row lock (PostgreSQL) or the single writer (SQLite) orders them, and the
loser's WHERE no longer holds. A key without a balance (NULL) is unlimited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from ..errors import Conflict, CreditInsufficient
from .columns import Money
from .tables import api_keys, idempotency

IDEMPOTENCY_WINDOW = timedelta(hours=24)

_DEBIT = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("owner"), api_keys.c.balance >= bindparam("amount", type_=Money()))
    .values(balance=api_keys.c.balance - bindparam("amount", type_=Money()))
)
_BALANCE = select(api_keys.c.balance).where(api_keys.c.id == bindparam("owner"))
_FIND_IDEM = select(idempotency).where(
    idempotency.c.owner == bindparam("owner"), idempotency.c.key == bindparam("key")
)
_INSERT_IDEM = insert(idempotency)


def debit(conn: Connection, owner: str, amount: Decimal) -> None:
    """Charge a metered key, or raise CreditInsufficient (the transaction then rolls back)."""
    if conn.execute(_DEBIT, {"owner": owner, "amount": amount}).rowcount == 1:
        return
    balance = conn.execute(_BALANCE, {"owner": owner}).scalar()
    if balance is not None:
        raise CreditInsufficient(
            f"balance {balance} USD is less than the price {amount} USD; top up the key"
        )


def match(row: Any, request_hash: str, now: datetime) -> str | None:
    """The job id of a stored idempotency row still in its window; Conflict when the request
    differs; None when absent or expired."""
    if row is None or row.created_at < now - IDEMPOTENCY_WINDOW:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            "this key was used within 24 h for a different request; use a new key",
            field="Idempotency-Key",
        )
    return str(row.job_id)


def lookup(conn: Connection, owner: str, key: str) -> Any:
    return conn.execute(_FIND_IDEM, {"owner": owner, "key": key}).first()


def find_idempotent(
    conn: Connection, owner: str, key: str, request_hash: str, now: datetime
) -> str | None:
    """As `match`, in a write transaction: an expired row is removed so the key can be reused."""
    row = lookup(conn, owner, key)
    job_id = match(row, request_hash, now)
    if job_id is None and row is not None:
        conn.execute(
            delete(idempotency).where(idempotency.c.owner == owner, idempotency.c.key == key)
        )
    return job_id


def remember(conn: Connection, owner: str, key: str, request_hash: str, job_id: str, now: datetime) -> None:
    conn.execute(
        _INSERT_IDEM,
        {"owner": owner, "key": key, "request_hash": request_hash, "job_id": job_id, "created_at": now},
    )


def forget_expired(conn: Connection, now: datetime) -> int:
    stmt = delete(idempotency).where(idempotency.c.created_at < now - IDEMPOTENCY_WINDOW)
    return conn.execute(stmt).rowcount


def key_values(**changes: Any) -> dict[str, Any]:
    """Column values for a key's settings; `...` (Ellipsis) means "leave as it is"."""
    allowed = ("balance", "rate_per_min", "max_running", "webhook_secret")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"unknown key settings: {', '.join(sorted(unknown))}")
    return {name: value for name, value in changes.items() if value is not ...}
