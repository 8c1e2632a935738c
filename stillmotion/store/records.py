"""Rows -> the job core's values. One column map per table, used by every read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ..jobs.records import Delivery, Job, KeyRecord, LedgerLine


def job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    meta = dict(m["meta"] or {})
    route = m["route"] if m["route"] is not None else meta.pop("route", None)  # rows before 0003
    events = m["webhook_events"]
    return Job(
        id=m["id"],
        owner=m["owner"],
        model=m["model"],
        dialect=m["dialect"],
        status=m["status"],
        progress=m["progress"],
        amount=m["amount"],
        refunded=bool(m["refunded"]),
        args=m["args"],
        spec=m["spec"],
        seed=m["seed"],
        created_at=m["created_at"],
        attempts=m["attempts"],
        eta=m["eta"],
        callback_url=m["callback_url"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        result=m["result"],
        metadata=meta,
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        off_peak=bool(m["off_peak"]),
        engine=m["engine"],
        webhook_events=tuple(events) if events is not None else None,
        route=route,
        lease_owner=m["lease_owner"],
        purged=m["purged_at"] is not None,
    )


def key_from_row(row: Row[Any]) -> KeyRecord:
    m = row._mapping
    return KeyRecord(
        m["id"], m["name"], m["key_hash"], m["created_at"], m["revoked_at"],
        m["balance"], m["webhook_secret"], m["rate_per_min"], m["max_running"], m["webhook_url"],
    )


def ledger_from_row(row: Row[Any]) -> LedgerLine:
    m = row._mapping
    return LedgerLine(m["id"], m["owner"], m["job_id"], m["kind"], m["amount"], m["created_at"])


def delivery_from_row(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        job_id=m["job_id"],
        url=m["url"],
        kind=m["kind"],
        attempts=m["attempts"],
        status=m["status"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        event=m["event"],
        payload=m["payload"],
        history=list(m["history"] or []),
    )
