"""Listing filters as SQL conditions, with the keyset cursor that pages through them.

Pages are keyed on (created_at, id), newest first: a cursor names the last job seen, so a
page never repeats or skips a job when new ones arrive while a client pages.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from ..jobs.records import JobFilter
from .tables import jobs


def conditions(f: JobFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.statuses:
        out.append(jobs.c.status.in_(list(f.statuses)))
    if f.models:
        out.append(jobs.c.model.in_(list(f.models)))
    if f.created_after is not None:
        out.append(jobs.c.created_at >= f.created_after)
    if f.created_before is not None:
        out.append(jobs.c.created_at < f.created_before)
    if f.after is not None:
        at, job_id = f.after
        if f.oldest_first:
            out.append(or_(jobs.c.created_at > at, and_(jobs.c.created_at == at, jobs.c.id > job_id)))
        else:
            out.append(or_(jobs.c.created_at < at, and_(jobs.c.created_at == at, jobs.c.id < job_id)))
    return out
