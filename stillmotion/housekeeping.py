"""Periodic upkeep, independent of any worker thread: the reaper (expired leases), off-peak
expiry, retention, expired idempotency keys. Each step is a guarded write, so every host may
run it at once without doing anything twice."""

from __future__ import annotations

import logging
import threading
import time

from stillmotion.jobs import Database, RetryPolicy
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

log = logging.getLogger("stillmotion.housekeeping")


class Housekeeper:
    def __init__(self, settings: Settings, db: Database, artifacts: ArtifactStore, policy: RetryPolicy) -> None:
        self.settings = settings
        self.db = db
        self.artifacts = artifacts
        self.policy = policy
        self._last_upkeep = -float("inf")

    def run(self, stop: threading.Event) -> None:
        """Reap every `reap_interval_s`; the rest every `housekeeping_interval_s`."""
        while not stop.is_set():
            try:
                self.reap()
                if time.monotonic() - self._last_upkeep >= self.settings.housekeeping_interval_s:
                    self._last_upkeep = time.monotonic()
                    self.once()
            except Exception:  # a database hiccup must not end upkeep for good
                log.exception("housekeeping failed")
            stop.wait(self.settings.reap_interval_s)

    def reap(self) -> None:
        result = self.db.jobs.reap(self.policy)
        if result.requeued or result.failed:
            log.warning("reaped: requeued %s failed %s", result.requeued, result.failed)

    def once(self) -> dict[str, int]:
        """One round of upkeep; counts of what it did (for logs and tests)."""
        expired = self.db.jobs.expire_off_peak(self.settings.off_peak_max_age_s)
        if expired:
            log.info("off-peak jobs expired, canceled and refunded: %s", expired)
        purged = self.purge()
        forgotten = self.db.jobs.forget_idempotency_keys()
        return {"expired": len(expired), "purged": purged, "idempotency_forgotten": forgotten}

    def purge(self) -> int:
        """Delete result files of jobs that ended more than `retention_s` ago; keep the jobs."""
        done = 0
        for job_id in self.db.jobs.purge_candidates(self.settings.retention_s):
            self.artifacts.delete_prefix(f"outputs/{job_id}")  # every attempt's objects; raises on an outage
            if self.db.jobs.mark_purged(job_id):
                done += 1
        if done:
            log.info("retention: deleted the result files of %d job(s)", done)
        return done
