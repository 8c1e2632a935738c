"""One job by id straight through sqlite3: the read every poll of a running or queued job makes.

SQLAlchemy's connection checkout, BEGIN/COMMIT events and row processing cost ~0.3 ms per
read here, several times the query itself; polls of unfinished jobs are the hottest read
the service has. A single SELECT in SQLite's autocommit mode is its own consistent snapshot,
so no transaction is needed. Values come back exactly as the SQLAlchemy column types give them
(`tests/store/test_store_fastread.py` compares every field against `Store.get_job`).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from stillmotion.domain import Job, JobStatus
from stillmotion.store.columns import as_utc, from_micros, sqlite_time
from stillmotion.store.engine import BUSY_TIMEOUT_MS

_COLUMNS = (
    "id", "owner", "model", "dialect", "status", "progress", "amount", "refunded", "args", "spec",
    "seed", "created_at", "attempts", "eta", "callback_url", "error_code", "error_message", "result",
    "meta", "started_at", "finished_at", "off_peak", "engine",
)
_SQL = f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?"
# The job and, while it is queued, its exact queue position, in one statement (one snapshot):
# `queue.position_of`'s covering-index range counts, correlated with the job's own row.
_AHEAD = "SELECT count(*) FROM jobs a WHERE a.status = 0 AND a.engine = j.engine AND "
_SQL_PLACED = (
    f"SELECT {', '.join('j.' + c for c in _COLUMNS)}, CASE WHEN j.status = 0 THEN "
    f"({_AHEAD}a.off_peak = j.off_peak AND a.created_at < j.created_at) + "
    f"({_AHEAD}a.off_peak = j.off_peak AND a.created_at = j.created_at AND a.id < j.id) + "
    f"CASE WHEN j.off_peak THEN ({_AHEAD}a.off_peak = 0) ELSE 0 END END "
    "FROM jobs j WHERE j.id = ?"
)
_SQL_ORDER = (
    "SELECT off_peak, created_at, id FROM jobs WHERE status = 0 AND engine = ? "
    "ORDER BY off_peak, created_at, id"
)
_AHEAD_OF = "SELECT count(*) FROM jobs WHERE status = 0 AND engine = :engine AND "
_SQL_POSITION = (
    f"SELECT ({_AHEAD_OF}off_peak = :off_peak AND created_at < :created_at) + "
    f"({_AHEAD_OF}off_peak = :off_peak AND created_at = :created_at AND id < :id) + "
    f"CASE WHEN :off_peak THEN ({_AHEAD_OF}off_peak = 0) ELSE 0 END"
)


_STATUS = tuple(JobStatus)  # by number: JobStatus(n) costs an enum lookup per read
assert all(status == number for number, status in enumerate(_STATUS))
_AMOUNTS: dict[int, Decimal] = {}  # micro-dollars -> Decimal: a few prices repeat


def _time(value: str | None) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(value))


def _json(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


def _amount(micros: int) -> Decimal:
    amount = _AMOUNTS.get(micros)
    if amount is None:
        if len(_AMOUNTS) >= 4096:
            _AMOUNTS.clear()
        amount = _AMOUNTS[micros] = from_micros(micros)  # Decimals are immutable: safe to share
    return amount


def job_from_tuple(row: tuple[Any, ...]) -> Job:
    """A `Job` from the columns of `_SQL`, as the SQLAlchemy column types would give them."""
    (job_id, owner, model, dialect, status, progress, amount, refunded, args, spec, seed, created_at,
     attempts, eta, callback_url, error_code, error_message, result, meta, started_at, finished_at,
     off_peak, engine) = row
    return Job.from_fields(
        id=job_id, owner=owner, model=model, dialect=dialect, status=_STATUS[status], progress=progress,
        amount=_amount(amount), refunded=bool(refunded), args=orjson.loads(args), spec=orjson.loads(spec),
        seed=seed, created_at=_time(created_at), attempts=attempts, eta=eta,
        callback_url=callback_url, error_code=error_code, error_message=error_message,
        result=_json(result), metadata=orjson.loads(meta), started_at=_time(started_at),
        finished_at=_time(finished_at), off_peak=bool(off_peak), engine=engine,
    )


class FastJobReader:
    """Per-thread read-only sqlite3 connections to the store's file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get_job(self, job_id: str) -> Job | None:
        row = self._conn().execute(_SQL, (job_id,)).fetchone()
        return None if row is None else job_from_tuple(row)

    def get_job_placed(self, job_id: str) -> tuple[Job | None, int | None]:
        """The job and, when it is queued, its exact queue position (`Store.get_job_placed`)."""
        row = self._conn().execute(_SQL_PLACED, (job_id,)).fetchone()
        if row is None:
            return None, None
        return job_from_tuple(row[:-1]), row[-1]

    def position_of(self, job: Job) -> int:
        """The exact queue position of a job known to be queued (`Store.position_of`)."""
        params = {"engine": job.engine, "off_peak": 1 if job.off_peak else 0,
                  "created_at": sqlite_time(job.created_at), "id": job.id}
        return int(self._conn().execute(_SQL_POSITION, params).fetchone()[0])

    def queue_keys(self, engine: str) -> list[tuple[int, str, str]]:
        """Claim-order keys of the engine's queued jobs, in order, as stored: (off_peak 0/1,
        created_at text, id). They sort exactly as SQLite orders them (fixed-width UTC text;
        UTF-8 byte order is code point order), and `queue_key` makes a job's; no conversion
        of thousands of rows into datetimes (`Store.queued_order` does that)."""
        return self._conn().execute(_SQL_ORDER, (engine,)).fetchall()

    @staticmethod
    def queue_key(job: Job) -> tuple[int, str, str]:
        return (1 if job.off_peak else 0, sqlite_time(job.created_at), job.id)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
