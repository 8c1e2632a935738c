"""Column types that make both backends hand back the same Python values.

SQLite keeps no time zone and PostgreSQL answers in the session's zone, so timestamps go
through `UTCDateTime`; money goes through `Money` so it is an exact integer in the database
(summable with plain SQL `SUM`) and a `Decimal` everywhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, SmallInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ..jobs.money import as_utc, from_micros, to_micros
from ..jobs.states import JobStatus

__all__ = ["Money", "StatusCode", "UTCDateTime", "as_utc", "from_micros", "to_micros", "utcnow"]



def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite's DATETIME text has no zone: write the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Money(TypeDecorator[Decimal]):
    """Integer micro-dollars in the database, `Decimal` dollars in Python."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        # PostgreSQL's SUM(bigint) is numeric, so this may be a Decimal of micros.
        return None if value is None else from_micros(value)


# The status column keeps the small numbers of the first schema; Python sees JobStatus.
_STATUS_CODES = {
    JobStatus.QUEUED: 0, JobStatus.PROCESSING: 1, JobStatus.SUCCEEDED: 2, JobStatus.FAILED: 3, JobStatus.CANCELED: 4,
}
_STATUSES = {code: status for status, code in _STATUS_CODES.items()}


class StatusCode(TypeDecorator[JobStatus]):
    """`JobStatus` in Python, a SMALLINT in the database (the indexes stay small)."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: JobStatus | str | None, dialect: Dialect) -> int | None:
        return None if value is None else _STATUS_CODES[JobStatus(value)]

    def process_result_value(self, value: Any, dialect: Dialect) -> JobStatus | None:
        return None if value is None else _STATUSES[int(value)]
