"""Fixtures for the store contract suite: every test runs on SQLite and on PostgreSQL.

PostgreSQL tests each get a fresh schema (dropped afterwards), reached through the URL's
`options=-csearch_path=...`, so runs never see each other's rows. The server defaults to the
local one used in CI; STILLMOTION_TEST_PG_URL points elsewhere. If it cannot be reached the
PostgreSQL half is skipped and the reason is printed at the end of the run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from stillmotion.store import NewJob, Store

PG_URL = os.environ.get(
    "STILLMOTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_pg_unreachable: list[str] = []


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(
        PG_URL, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT"
    )
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
        terminalreporter.write_line(f"store tests: {_pg_unreachable[0]} (PostgreSQL tests skipped)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'stillmotion.db'}"
        return
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
def open_store(store_url: str) -> Iterator[Callable[[], Store]]:
    """Opens more Stores (own engine and pool, like another process) on the same database."""
    opened: list[Store] = []

    def _open(migrate: bool = True) -> Store:
        store = Store(store_url, pool_size=2)
        opened.append(store)
        if migrate:
            store.migrate()
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


_ids = itertools.count()


@pytest.fixture
def make_job(store: Store) -> Callable[..., NewJob]:
    """Creates a job in `store` (fields overridable) and returns the NewJob used."""

    def _make(**overrides: Any) -> NewJob:
        fields: dict[str, Any] = {
            "id": f"job-{next(_ids):05d}-{uuid4().hex[:6]}",
            "owner": "owner-1",
            "model": "vidu/vidu-q3/image-to-video",
            "dialect": "job",
            "engine": "motion",
            "amount": Decimal("0.60"),
            "args": {"prompt": "a cat", "duration": 5},
            "spec": {"num_frames": 120},
            "seed": 1234,
            "callback_url": None,
            "off_peak": False,
            "metadata": {},
        }
        fields.update(overrides)
        new = NewJob(**fields)
        store.create_job(new)
        return new

    return _make
