"""Keys and money: `SqlAccounts` (keys, balances, ledger reads), and the bookkeeping that runs
inside a job's transaction (debit, idempotency keys).

A metered key's balance is debited by one conditional UPDATE (`WHERE balance >= amount`) in
the transaction that stores the job, so concurrent submits on either backend can never take
it below zero: the row lock (PostgreSQL) or the single writer (SQLite) orders them, and the
loser's WHERE no longer holds. A key without a balance (NULL) is unlimited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from uuid import uuid4

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, CreditInsufficient
from ..jobs.records import KeyRecord, LedgerLine
from .columns import Money, utcnow
from .engine import read_tx, write_tx
from .records import key_from_row, ledger_from_row
from .tables import api_keys, idempotency, ledger

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
    allowed = ("balance", "rate_per_min", "max_running", "webhook_secret", "webhook_url")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"unknown key settings: {', '.join(sorted(unknown))}")
    return {name: value for name, value in changes.items() if value is not ...}


class SqlAccounts:
    """Implements `jobs.repository.AccountRepository`: API keys, balances and ledger reads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_key(self, name: str, key_hash: str, **settings: Any) -> str:
        """Store a key; `settings`: balance (Decimal, None = unlimited), webhook_secret,
        rate_per_min, max_running (None = the operator's default), webhook_url."""
        key_id = uuid4().hex
        values = key_values(**settings)
        try:
            with write_tx(self._engine) as conn:
                conn.execute(insert(api_keys).values(id=key_id, name=name, key_hash=key_hash, created_at=utcnow(), **values))
        except IntegrityError as exc:
            with read_tx(self._engine) as conn:
                taken = conn.execute(select(api_keys.c.id).where(api_keys.c.key_hash == key_hash)).first()
            if taken is None:
                raise
            raise Conflict("an API key with this hash is already stored") from exc
        return key_id

    def find_key(self, key_hash: str) -> KeyRecord | None:
        stmt = select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        with read_tx(self._engine) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else key_from_row(row)

    def get_key(self, key_id: str) -> KeyRecord | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else key_from_row(row)

    def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        with read_tx(self._engine) as conn:
            return [key_from_row(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))]

    def revoke_key(self, key_id: str) -> bool:
        """False when the key is unknown or already revoked."""
        stmt = update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=utcnow())
        with write_tx(self._engine) as conn:
            return conn.execute(stmt).rowcount == 1

    def update_key(self, key_id: str, **settings: Any) -> bool:
        """Change a key's balance, limits or webhook secret; False when the key is unknown."""
        values = key_values(**settings)
        if not values:
            return self.get_key(key_id) is not None
        with write_tx(self._engine) as conn:
            return conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values)).rowcount == 1

    def count_keys(self) -> int:
        """Keys that still authenticate (revoked ones are not counted)."""
        with read_tx(self._engine) as conn:
            return int(conn.execute(select(func.count()).where(api_keys.c.revoked_at.is_(None))).scalar_one())

    def balance(self, owner: str) -> Decimal | None:
        """What a metered key has left to spend; None when unlimited (or not a stored key)."""
        with read_tx(self._engine) as conn:
            return conn.execute(_BALANCE, {"owner": owner}).scalar()

    def ledger(self, owner: str, limit: int | None = None) -> list[LedgerLine]:
        """Oldest first; with `limit`, the newest `limit` lines (still oldest first)."""
        stmt = select(ledger).where(ledger.c.owner == owner)
        if limit is not None:
            stmt = select(stmt.order_by(ledger.c.id.desc()).limit(limit).subquery())
        with read_tx(self._engine) as conn:
            rows = sorted(conn.execute(stmt), key=lambda row: row.id)
        return [ledger_from_row(row) for row in rows]

    def ledger_total(self, owner: str) -> Decimal:
        """Charges minus refunds, summed exactly in SQL."""
        signed = case((ledger.c.kind == "refund", -ledger.c.amount), else_=ledger.c.amount)
        total = type_coerce(func.coalesce(func.sum(signed), 0), Money())
        with read_tx(self._engine) as conn:
            return conn.execute(select(total).where(ledger.c.owner == owner)).scalar_one()
