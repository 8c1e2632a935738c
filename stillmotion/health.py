"""Can this process take and keep jobs? The answers behind /readyz and the submit gate.

A service that accepts and charges a job it cannot store or run is worse than one that says
"not now": so creates are refused with 503 + Retry-After while the data dir is short of space
or not writable, and /readyz names every reason it is not ready (storage, space, database,
workers, a stalled queue).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stillmotion.settings import Settings

STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
STORAGE_TEXTS = ("database or disk is full", "disk full", "no space left", "read-only", "readonly")
PROBE_BYTES = 4096  # an empty probe file needs only an inode and succeeds on a full disk
RETRY_AFTER_S = 30


def storage_fault(exc: BaseException) -> bool:
    """Whether `exc` says the disk or database cannot take writes now (not a bug, not bad input)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return True
        text = str(exc).lower()
        if any(t in text for t in STORAGE_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def sqlite_dir(settings: Settings) -> Path | None:
    url = settings.db_url
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///")).parent


def space_problem(settings: Settings) -> str | None:
    """A reason when the data dir (or the SQLite database's dir) has less free space than
    `min_free_mb`; None when there is room."""
    floor = settings.min_free_mb * 1024 * 1024
    for name, path in (("data dir", settings.data_dir), ("database dir", sqlite_dir(settings))):
        if path is None:
            continue
        try:
            free = shutil.disk_usage(path).free
        except OSError as exc:
            return f"{name} unreadable: {exc.strerror or type(exc).__name__}"
        if free < floor:
            return f"{name} has {free // (1024 * 1024)} MB free, below the {settings.min_free_mb} MB floor"
    return None


def write_probe(root: Path) -> str | None:
    """Write, sync and delete a small file under `root`; the error, or None when it worked."""
    probe = root / f".ready-{secrets.token_hex(4)}"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


class StoreGate:
    """The submit path's check that a job could be stored, cached for `ttl_s` so a burst of
    creates costs one statvfs per second."""

    def __init__(self, settings: Settings, ttl_s: float = 1.0) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._problem: str | None = None

    def problem(self) -> str | None:
        with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                self._problem = space_problem(self.settings)
                self._at = time.monotonic()
            return self._problem

    def failed(self, reason: str) -> None:
        """A write just failed for lack of space: refuse until the next check says otherwise."""
        with self._lock:
            self._problem, self._at = reason, time.monotonic()


def readiness(runtime: Any) -> dict[str, str]:
    """Every check by name: "ok" or the reason it fails (blocking: database and disk I/O)."""
    settings: Settings = runtime.settings
    out: dict[str, str] = {}
    try:
        stats = runtime.service.queue_stats()
        out["database"] = "ok"
    except Exception as exc:  # reported, not raised: readiness is an answer, not an error
        stats = None
        out["database"] = f"error: {type(exc).__name__}"
    if stats is not None:
        try:  # a real write transaction (upkeep that is safe to run any time): a read-only database fails it
            runtime.db.jobs.forget_idempotency_keys()
        except Exception as exc:
            out["database"] = f"not writable: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    try:
        runtime.artifacts.check()  # a local store writes a synced 4 KB probe; an object store is asked
        out["storage"] = "ok"
    except Exception as exc:  # a full disk, a read-only mount, an unreachable object store
        out["storage"] = f"not writable: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    db_dir = sqlite_dir(settings)
    if db_dir is not None:
        problem = write_probe(db_dir)
        if problem is not None:
            out["database"] = f"database dir not writable: {problem}"
    out["space"] = space_problem(settings) or "ok"
    bg = runtime.background_health()
    if "worker" in bg["slots"]:
        live = bg["live"].get("worker", 0)
        out["workers"] = "ok" if live else f"no live worker thread for {', '.join(bg['engines'])}"
        out["queue"] = _stall(runtime, bg, stats)
    for kind in ("callbacks", "housekeeping", "upstream"):
        if kind in bg["slots"]:
            out[kind] = "ok" if bg["live"].get(kind) else f"the {kind} thread is not running"
    return out


def _stall(runtime: Any, bg: dict[str, Any], stats: dict[str, int] | None) -> str:
    """Stalled: a job could run now and has waited over `stall_after_s` while every worker
    thread of this process is idle (a claim loop that fails or never sees the job)."""
    if stats is None or not stats.get("queued") or bg["idle"] < bg["workers"] or not bg["workers"]:
        return "ok"
    try:
        since = runtime.db.jobs.oldest_due(bg["engines"])
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    if since is None:
        return "ok"
    waited = (datetime.now(UTC) - since).total_seconds()
    if waited <= runtime.settings.stall_after_s:
        return "ok"
    return f"stalled: a job has waited {waited:.0f} s while {bg['idle']} worker(s) sit idle"
