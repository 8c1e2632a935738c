"""Fixtures for the job-core suite: every `db` test runs on memory, SQLite and PostgreSQL.

PostgreSQL tests each get a fresh schema (dropped afterwards), reached through the URL's
`options=-csearch_path=...`, so runs never see each other's rows. The server defaults to the
local one used in CI; STILLMOTION_TEST_PG_URL points elsewhere. If it cannot be reached the
PostgreSQL half is skipped and the reason is printed at the end of the run.

Time: memory runs on a `FakeClock` that tests move (`clock.wait_past`); SQL backends use the
wall clock and short real leases, so one test body serves all three.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from stillmotion.jobs import Database, Job
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.store import Database as SqlDatabase

from .support import BACKENDS, Clock, FakeClock, new_job

PG_URL = os.environ.get("STILLMOTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_unreachable: list[str] = []


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = f"PostgreSQL unreachable at {make_url(PG_URL)!r}: {exc.orig}"
        _pg_unreachable.append(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _pg_unreachable:
        terminalreporter.write_line(f"tests/jobs: {_pg_unreachable[0]} (PostgreSQL tests skipped)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """memory | sqlite | postgresql (tests narrow it with `only_on`)."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A URL to an empty SQL database of the backend; None for memory."""
    if backend == "memory":
        yield None
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'stillmotion.db'}"
    else:
        admin: Engine = request.getfixturevalue("pg_admin")
        schema = f"sm_test_{uuid4().hex[:16]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clock(backend: str, fake_clock: FakeClock) -> Clock:
    return Clock(backend, fake_clock)


@pytest.fixture
def open_db(backend: str, db_url: str | None, fake_clock: FakeClock) -> Iterator[Callable[..., Database]]:
    """Opens another connection to the same database (own engine and pool, like another
    process); for memory, the one MemoryDatabase every "connection" shares."""
    memory = MemoryDatabase(clock=fake_clock)
    opened: list[SqlDatabase] = []

    def _open(migrate: bool = True) -> Database:
        if db_url is None:
            return memory
        db = SqlDatabase(db_url, pool_size=2)
        opened.append(db)
        if migrate:
            db.migrate()
        return db

    yield _open
    for db in opened:
        db.close()


@pytest.fixture
def db(open_db: Callable[..., Database]) -> Database:
    return open_db()


@pytest.fixture
def make_job(db: Database) -> Callable[..., Job]:
    """Creates a job in `db` (NewJob fields overridable) and returns the stored Job."""

    def _make(**overrides: Any) -> Job:
        return db.jobs.create(new_job(**overrides))

    return _make
