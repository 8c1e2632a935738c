"""Filters for job listings, and the keyset cursor that pages through them.

Pages are keyed on (created_at, id), newest first: a cursor names the last job seen, so a
page never repeats or skips a job when new ones arrive while a client pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from ..domain import JobStatus
from .tables import jobs


@dataclass(frozen=True)
class JobFilter:
    statuses: tuple[JobStatus, ...] = ()
    models: tuple[str, ...] = ()
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    after: tuple[datetime, str] | None = None  # cursor: (created_at, id) of the last job seen


def conditions(f: JobFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.statuses:
        out.append(jobs.c.status.in_([int(s) for s in f.statuses]))
    if f.models:
        out.append(jobs.c.model.in_(list(f.models)))
    if f.created_after is not None:
        out.append(jobs.c.created_at >= f.created_after)
    if f.created_before is not None:
        out.append(jobs.c.created_at < f.created_before)
    if f.after is not None:
        at, job_id = f.after
        out.append(or_(jobs.c.created_at < at, and_(jobs.c.created_at == at, jobs.c.id < job_id)))
    return out
