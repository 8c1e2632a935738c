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
from typing import Any

import orjson

from stillmotion.domain import Job, JobStatus
from stillmotion.store.columns import as_utc, from_micros
from stillmotion.store.engine import BUSY_TIMEOUT_MS

_COLUMNS = (
    "id", "owner", "model", "dialect", "status", "progress", "amount", "refunded", "args", "spec",
    "seed", "created_at", "attempts", "eta", "callback_url", "error_code", "error_message", "result",
    "meta", "started_at", "finished_at", "off_peak", "engine",
)
_SQL = f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?"


def _time(value: str | None) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(value))


def _json(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


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
        if row is None:
            return None
        m = dict(zip(_COLUMNS, row))
        return Job(
            id=m["id"], owner=m["owner"], model=m["model"], dialect=m["dialect"],
            status=JobStatus(m["status"]), progress=m["progress"], amount=from_micros(m["amount"]),
            refunded=bool(m["refunded"]), args=_json(m["args"]), spec=_json(m["spec"]), seed=m["seed"],
            created_at=_time(m["created_at"]), attempts=m["attempts"], eta=m["eta"],  # type: ignore[arg-type]
            callback_url=m["callback_url"], error_code=m["error_code"], error_message=m["error_message"],
            result=_json(m["result"]), metadata=_json(m["meta"]), started_at=_time(m["started_at"]),
            finished_at=_time(m["finished_at"]), off_peak=bool(m["off_peak"]), engine=m["engine"],
        )

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
