"""A job and its charge stored straight through sqlite3: the write every create makes.

The group-commit writer (`store.writer`) stores waiting creates in one SQLAlchemy write
transaction (`write_tx`: the process's write lock, BEGIN IMMEDIATE, COMMIT); inside it, the
statements for each job ran through SQLAlchemy Core at ~0.6 ms of CPU per job (statement
cache lookups, parameter processing, RETURNING and row processing), several times what
SQLite itself spends. Here the same rows are written on that transaction's own sqlite3
connection with plain parameterised statements, and the `Job` is built from the values
written instead of read back. What ends up in the database is what the SQLAlchemy path
writes (the column types' encodings: integer micro-dollars, 0/1 booleans, SQLite's DATETIME
text, JSON text), and the `Job` equals what `Store.get_job` then reads:
`tests/store/test_store_fastwrite.py` checks both against `Store.create_job`.

Only SQLite file stores take this path; PostgreSQL keeps `Store.create_job`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import orjson

from stillmotion.domain import Job, JobStatus
from stillmotion.errors import CreditInsufficient
from stillmotion.store.columns import from_micros, sqlite_time, to_micros
from stillmotion.store.records import NewJob

_INSERT_JOB = (
    "INSERT INTO jobs (id, owner, model, dialect, engine, status, progress, amount, refunded, args, spec, "
    "seed, callback_url, off_peak, meta, attempts, created_at, webhook_events) "
    "VALUES (?, ?, ?, ?, ?, 0, 0, ?, 0, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
_INSERT_CHARGE = "INSERT INTO ledger (owner, job_id, kind, amount, created_at) VALUES (?, ?, 'charge', ?, ?)"
_DEBIT = "UPDATE api_keys SET balance = balance - ? WHERE id = ? AND balance >= ?"
_BALANCE = "SELECT balance FROM api_keys WHERE id = ?"


class NotEncodable(Exception):
    """A value orjson does not write as the SQLAlchemy path would (e.g. a non-string key):
    nothing was written; the caller stores this job through SQLAlchemy instead."""


def _json(value: Any) -> tuple[str, Any]:
    """JSON text for a JSON column and the value a read gives back (what was stored).

    Values that JSON does not carry as they are (NaN, which orjson writes as null, tuples,
    which come back as lists) take the general path, so both paths store the same."""
    try:
        raw = orjson.dumps(value)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise NotEncodable(str(exc)) from None
    back = orjson.loads(raw)
    if back != value:
        raise NotEncodable("a value JSON does not carry as it is")
    return raw.decode(), back  # text: SQLite would store bytes as a BLOB


def insert_job(conn: sqlite3.Connection, new: NewJob, now: datetime) -> Job:
    """Debit the owner, store the job and its charge; inside the caller's write transaction.

    `now` is aware UTC. Raises NotEncodable before writing anything when a JSON value needs
    the general path, CreditInsufficient (nothing written) when a metered key is short.
    Jobs with an Idempotency-Key are not taken here (the caller's general path replays them).
    """
    if new.idempotency_key:
        raise NotEncodable("idempotency keys take the general path")
    args, args_back = _json(new.args)
    spec, spec_back = _json(new.spec)
    meta, meta_back = _json(new.metadata)
    events = None if new.webhook_events is None else _json(list(new.webhook_events))[0]
    micros = to_micros(new.amount)
    stamp = sqlite_time(now)
    if conn.execute(_DEBIT, (micros, new.owner, micros)).rowcount != 1:
        row = conn.execute(_BALANCE, (new.owner,)).fetchone()
        if row is not None and row[0] is not None:
            raise CreditInsufficient(
                f"balance {from_micros(row[0])} USD is less than the price {new.amount} USD; top up the key"
            )
    conn.execute(
        _INSERT_JOB,
        (new.id, new.owner, new.model, new.dialect, new.engine, micros, args, spec, new.seed,
         new.callback_url, 1 if new.off_peak else 0, meta, stamp, events),
    )
    conn.execute(_INSERT_CHARGE, (new.owner, new.id, micros, stamp))
    return Job.from_fields(
        id=new.id, owner=new.owner, model=new.model, dialect=new.dialect, status=JobStatus.QUEUED,
        progress=0, amount=from_micros(micros), refunded=False, args=args_back, spec=spec_back,
        seed=new.seed, created_at=now, attempts=0, eta=None, callback_url=new.callback_url,
        error_code=None, error_message=None, result=None, metadata=meta_back, started_at=None,
        finished_at=None, off_peak=bool(new.off_peak), engine=new.engine,
    )
